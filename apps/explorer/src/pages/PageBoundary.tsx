import { Component, type ReactNode } from "react";

interface Caught {
  error: Error | undefined;
}

/**
 * Holds a page's crash to that page: the rest of the explorer (its header, the other pages, the playground kept
 * mounted behind them) goes on showing the chain. The page is tried again when the chain moves on (`resetKey`) past the block it crashed on.
 */
export class PageBoundary extends Component<
  { name: string; resetKey?: unknown; children: ReactNode },
  Caught
> {
  override state: Caught = { error: undefined };

  static getDerivedStateFromError(error: unknown): Caught {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidUpdate(previous: { resetKey?: unknown }, before: Caught): void {
    // Only an error caught before this update: a crash on the render the new key itself brought (its `previous` key
    // still the old one) would otherwise be tried again at once, and crash twice on every block.
    if (
      before.error !== undefined &&
      this.state.error !== undefined &&
      previous.resetKey !== this.props.resetKey
    )
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
