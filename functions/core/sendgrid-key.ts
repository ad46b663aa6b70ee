/**
 * Whether a SendGrid API key has the form SendGrid issues keys in: `SG.`,
 * 22 characters, `.`, 43 characters, of the URL-safe base64 alphabet (69 in
 * all; the form secret scanners match). The key is taken as the functions
 * take it, without surrounding whitespace. What is wrong is described
 * without quoting any of the key.
 */
const FORM = /^SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;

/** Undefined for a well-formed key, else what is wrong with it. */
export function sendGridKeyProblem(raw: string): string | undefined {
  const key = raw.trim();
  if (FORM.test(key)) return undefined;
  if (key === '') return 'it is empty';
  if (!key.startsWith('SG.')) return 'it does not start with "SG." as SendGrid API keys do';
  if (/\s/.test(key)) return 'it holds whitespace or a line break inside';
  if (/[^A-Za-z0-9_.-]/.test(key))
    return 'it holds characters SendGrid API keys do not (only letters, digits, "-", "_" and ".")';
  const parts = key.split('.').map(p => p.length);
  return `it is not SG.<22 characters>.<43 characters> (its parts are ${parts.join(', ')} characters long)`;
}
