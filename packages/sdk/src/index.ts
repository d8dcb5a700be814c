// This package is built up by its own issue; it exports nothing yet.
export {};
