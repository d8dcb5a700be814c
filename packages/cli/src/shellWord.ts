/** A word for a POSIX shell command a person copies: left bare when it is plain, else single-quoted. */
export const shellWord = (value: string): string =>
  /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
