// What may go into a response header. Node.js (like HTTP itself) refuses a value holding a
// control character or a character outside ISO-8859-1, and a name that is not an HTTP token; it
// throws while the response is being written. So text a client supplies that skep will later send
// as a header (a POST form's Content-Type or metadata, as its UTF-8 bytes; a response-* override;
// a CORS ExposeHeader) is checked with these when it arrives, and refused with a clear error then
// rather than stored for every later response to fail on.

const NOT_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const NOT_LATIN1 = /[^\x00-\xff]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Why `value` cannot be sent as a header value, or null when it can. */
export function headerValueProblem(value: string): string | null {
  if (!NOT_HEADER_VALUE.test(value)) return null;
  return NOT_LATIN1.test(value) ? 'Header value cannot be represented using ISO-8859-1.' : 'Header value cannot contain control characters.';
}

/** Whether `name` is an HTTP token, the only form a header name may take. */
export function isHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** Whether `text` holds a control character (C0 or DEL; tab included). */
export function hasControlCharacter(text: string): boolean {
  return /[\x00-\x1f\x7f]/.test(text);
}
