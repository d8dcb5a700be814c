import { Component, type ReactNode } from "react";

interface Caught {
  error: Error | undefined;
}

/**
 * Holds a page's crash to that page: the rest of the explorer (its header, the other pages, the playground kept
 * mounted behind them) goes on showing the chain. The page is tried again when the chain moves on (`resetKey`).
 */
export class PageBoundary extends Component<
  { name: string; resetKey?: unknown; children: ReactNode },
  Caught
> {
  override state: Caught = { error: undefined };

  static getDerivedStateFromError(error: unknown): Caught {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidUpdate(previous: { resetKey?: unknown }): void {
    if (this.state.error !== undefined && previous.resetKey !== this.props.resetKey)
      this.setState({ error: undefined });
  }

  override render(): ReactNode {
    if (this.state.error === undefined) return this.props.children;
    return (
      <p className="error" data-testid="page-error">
        The {this.props.name} page failed: {this.state.error.message}
      </p>
    );
  }
}
