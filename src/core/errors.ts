/** Errors with stable codes (ARCHITECTURE habit 8): code, operation, cause. */
export class CtsyncError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CtsyncError';
  }
}
