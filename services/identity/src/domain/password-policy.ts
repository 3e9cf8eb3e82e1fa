import type { FieldError } from '@emporium/platform';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 128;
/** Long passphrases of one character class (all lower-case words) are fine. */
const PASSPHRASE_LENGTH = 16;

/**
 * The most common passwords of ten characters or more in public breach corpora (and their
 * obvious variants); shorter ones already fail the length rule. Compared case-insensitively.
 */
const COMMON_PASSWORDS = new Set([
  '1234567890', '0123456789', '0987654321', '1234567891', '12345678910', '123456789a', 'a123456789',
  '1q2w3e4r5t', '1qaz2wsx3edc', 'qwertyuiop', 'qwertyuiop1', 'qwerty1234', 'qwerty12345', 'qwerty123456',
  'asdfghjkl1', 'asdfghjkl;', 'zxcvbnm123', 'password12', 'password123', 'password1234', 'password!1',
  'password01', 'passw0rd123', 'p@ssw0rd123', 'p@ssword123', 'iloveyou12', 'iloveyou123', 'football123',
  'baseball123', 'princess123', 'sunshine123', 'welcome123', 'welcome1234', 'letmein123', 'letmein1234',
  'trustno1234', 'dragon1234', 'monkey12345', 'superman123', 'starwars123', 'michael123', 'charlie123',
  'jennifer123', 'liverpool123', 'chocolate1', 'chocolate123', 'basketball', 'basketball1', 'football1',
  'christopher', 'alexander1', 'jessica123', 'computer123', 'internet123', 'whatever123', 'administrator',
  'admin12345', 'admin123456', 'adminadmin', 'changeme123', 'changeme1234', 'secret1234', 'mypassword',
  'mypassword1', 'mypassword123', 'passwordpassword', 'qazwsxedcrfv', 'zaq12wsxcde3', '1q2w3e4r5t6y',
  'abcdefghij', 'abcdefghijk', 'abcd123456', 'abc1234567', 'abcdef123456', 'aaaaaaaaaa1', '1111111111a',
  'qwe123qwe123', '123qweasdzxc', 'qweasdzxc123', 'q1w2e3r4t5', 'q1w2e3r4t5y6', '1a2b3c4d5e',
  'loveyou123', 'iloveyou!!', 'samsung123', 'pokemon123', 'minecraft1', 'minecraft123', 'emporium123',
  'welcome2024', 'welcome2025', 'password2024', 'password2025', 'summer2024', 'summer2025', 'winter2024',
  'winter2025', 'spring2025', 'autumn2025', 'january2025', 'september1', 'nopassword', 'unknown123',
  'default123', 'letmeinnow', 'opensesame', 'thisismypassword', 'correcthorsebatterystaple',
]);

const CLASSES = [/^[0-9]+$/, /^[a-z]+$/, /^[A-Z]+$/, /^[^A-Za-z0-9]+$/u];

/**
 * The rules a new password must meet. Returns one error per broken rule, each naming `field`
 * and the rule, or none. Length counts characters (code points), not bytes.
 */
export function checkPassword(password: string, email: string, field = 'password'): FieldError[] {
  const errors: FieldError[] = [];
  const broken = (rule: string, message: string) => errors.push({ field, message: `${message} (rule: ${rule})` });
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) broken('min_length', `must be at least ${PASSWORD_MIN_LENGTH} characters`);
  if (length > PASSWORD_MAX_LENGTH) broken('max_length', `must be at most ${PASSWORD_MAX_LENGTH} characters`);
  if (new Set(password).size <= 2) broken('repeated_characters', 'must not be one or two characters repeated');
  else if (length < PASSPHRASE_LENGTH && CLASSES.some((c) => c.test(password))) {
    broken('character_classes', `must mix letters, digits or symbols (or be at least ${PASSPHRASE_LENGTH} characters)`);
  }
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) broken('common_password', 'is one of the most common passwords');
  if (lower === email.toLowerCase() || lower === email.toLowerCase().split('@')[0]) broken('same_as_email', 'must not be the email address');
  return errors;
}
