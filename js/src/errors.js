// The package's errors made in JavaScript: `QuickChatError`s with a stable `code`, as the
// engine's own errors are.

/** A `QuickChatError` with `code` and `message`. */
export function quickChatError(code, message) {
  return Object.assign(new Error(message), { name: 'QuickChatError', code });
}
