// Token verification lives in the platform (the gateway needs it, and services never import each other).
export { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP, bearerToken, createTokenVerifier, type TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from '@emporium/platform';
