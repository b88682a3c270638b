/** Blanks the user-info of every URL in `text` (scheme://user:password@host → scheme://[redacted]@host). */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\/\/[^/@\s]*@/g, "//[redacted]@");
}
