import { z } from 'zod';

// HTTP bodies of the identity service: customers, staff, guests, their tokens and the JWKS.

/** Trimmed and lower-cased before it is checked, stored or compared. */
export const EmailAddress = z
  .string()
  .max(320)
  .trim()
  .toLowerCase()
  .pipe(z.email({ message: 'must be an email address' }).max(254));

/**
 * A password as typed. Only absurd sizes are refused here (400); the policy — length 10–128,
 * not one character class, not a common password, not the email — answers 422 naming the rule.
 */
export const PasswordText = z.string().max(1024);

export const PersonName = z.string().trim().min(1, 'must not be empty').max(100);

export const StaffRole = z.enum(['admin', 'operations', 'support']);
export type StaffRole = z.infer<typeof StaffRole>;

/** Who a token speaks for. */
export const PrincipalType = z.enum(['customer', 'staff', 'guest']);
export type PrincipalType = z.infer<typeof PrincipalType>;

/** A compact JWS as sent in `Authorization: Bearer` or in a body; sizes beyond any real token are refused. */
export const AccessTokenText = z.string().min(1).max(4096).regex(/^[\w-]+\.[\w-]+\.[\w-]*$/, 'must be a JWT');

/** Opaque refresh token: `rt_` and 43 base64url characters (256 random bits). */
export const RefreshTokenText = z.string().regex(/^rt_[\w-]{43}$/, 'must be a refresh token');

export const SignUpRequest = z
  .object({
    email: EmailAddress,
    password: PasswordText,
    name: PersonName,
    guestToken: AccessTokenText.optional().describe("the guest's access token: its cart is merged into the customer's"),
  })
  .strict();
export type SignUpRequest = z.infer<typeof SignUpRequest>;

export const SignInRequest = z
  .object({
    email: EmailAddress,
    password: PasswordText,
    guestToken: AccessTokenText.optional().describe("the guest's access token: its cart is merged into the customer's"),
  })
  .strict();
export type SignInRequest = z.infer<typeof SignInRequest>;

export const StaffSignInRequest = z.object({ email: EmailAddress, password: PasswordText }).strict();
export type StaffSignInRequest = z.infer<typeof StaffSignInRequest>;

export const CreateStaffRequest = z
  .object({
    email: EmailAddress,
    password: PasswordText,
    name: PersonName,
    roles: z.array(StaffRole).min(1).max(3).refine((r) => new Set(r).size === r.length, 'must not repeat a role'),
  })
  .strict();
export type CreateStaffRequest = z.infer<typeof CreateStaffRequest>;

export const RefreshRequest = z.object({ refreshToken: RefreshTokenText }).strict();
export type RefreshRequest = z.infer<typeof RefreshRequest>;

export const SignOutRequest = z.object({ refreshToken: RefreshTokenText }).strict();
export type SignOutRequest = z.infer<typeof SignOutRequest>;

export const ChangePasswordRequest = z.object({ currentPassword: PasswordText, newPassword: PasswordText }).strict();
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequest>;

export const Customer = z.object({
  id: z.string().describe('cus_…'),
  email: z.string(),
  name: z.string(),
  createdAt: z.string(),
});
export type Customer = z.infer<typeof Customer>;

export const StaffMember = z.object({
  id: z.string().describe('stf_…'),
  email: z.string(),
  name: z.string(),
  roles: z.array(StaffRole),
  createdAt: z.string(),
});
export type StaffMember = z.infer<typeof StaffMember>;

export const Guest = z.object({ id: z.string().describe('gst_…') });
export type Guest = z.infer<typeof Guest>;

export const TokenPair = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string(),
  /** Seconds until the access token expires. */
  expiresIn: z.number().int(),
  refreshToken: z.string(),
  /** Seconds until the refresh token expires (each refresh issues a new one). */
  refreshExpiresIn: z.number().int(),
});
export type TokenPair = z.infer<typeof TokenPair>;

export const CustomerSession = TokenPair.extend({ customer: Customer });
export type CustomerSession = z.infer<typeof CustomerSession>;

export const StaffSession = TokenPair.extend({ staff: StaffMember });
export type StaffSession = z.infer<typeof StaffSession>;

export const GuestSession = TokenPair.extend({ guest: Guest });
export type GuestSession = z.infer<typeof GuestSession>;

/** `GET /auth/me`: the account behind the access token, without secrets. */
export const Me = z.discriminatedUnion('type', [
  z.object({ type: z.literal('customer'), customer: Customer }),
  z.object({ type: z.literal('staff'), staff: StaffMember }),
  z.object({ type: z.literal('guest'), guest: Guest }),
]);
export type Me = z.infer<typeof Me>;

/** The claims of an Emporium access token (JWT, ES256, `kid` in the header). */
export const AccessTokenClaims = z.object({
  sub: z.string().regex(/^(cus|stf|gst)_[\w-]{1,64}$/),
  typ: PrincipalType,
  roles: z.array(StaffRole).optional(),
  iss: z.string(),
  aud: z.union([z.string(), z.array(z.string())]),
  exp: z.number().int(),
  iat: z.number().int(),
  jti: z.string(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaims>;

export const PublicJwk = z.looseObject({
  kty: z.string(),
  kid: z.string(),
  alg: z.string(),
  use: z.string(),
  crv: z.string().optional(),
  x: z.string().optional(),
  y: z.string().optional(),
});

export const Jwks = z.object({ keys: z.array(PublicJwk) });
export type Jwks = z.infer<typeof Jwks>;
