import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ChangePasswordRequest,
  CreateStaffRequest,
  CustomerSession,
  GuestSession,
  Me,
  RefreshRequest,
  SignInRequest,
  SignOutRequest,
  SignUpRequest,
  StaffMember,
  StaffSession,
  StaffSignInRequest,
  TokenPair,
} from '@emporium/contracts';
import { problemResponses, type HttpApp, type Idempotency } from '@emporium/platform';
import type { Auth } from '../auth';
import { bearerToken, type VerifiedToken } from '../verify';

const problems = { ...problemResponses, 401: problemResponses[400], 403: problemResponses[400] };

/**
 * The gateway sends /auth/* without a principal (identity reads the token itself), so idempotency
 * keys on identity's routes belong to the caller that identity verified before the key is claimed.
 */
const verifiedCallers = new WeakMap<FastifyRequest, VerifiedToken>();
export const verifiedCaller = (request: FastifyRequest): string | undefined => verifiedCallers.get(request)?.subject;

export function authRoutes(app: HttpApp, auth: Auth, idempotency: Idempotency): void {
  const caller = (request: FastifyRequest) => auth.authenticate(bearerToken(request.headers.authorization));

  // Tokens are never cached by browsers or proxies.
  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/auth/')) reply.header('cache-control', 'no-store');
  });

  app.post('/auth/signup', {
    schema: {
      tags: ['customers'],
      summary: 'Create a customer account and sign in (a repeated sign-up with the same email and password signs in to the same account)',
      body: SignUpRequest,
      response: { 201: CustomerSession, ...problems },
    },
  }, async (request, reply) => {
    const { session } = await auth.signUp(request.body, request.correlationId);
    return reply.code(201).send(session);
  });

  app.post('/auth/signin', {
    schema: { tags: ['customers'], summary: 'Customer sign-in', body: SignInRequest, response: { 200: CustomerSession, ...problems } },
  }, async (request) => auth.signIn(request.body, request.correlationId));

  app.post('/auth/guest', {
    schema: { tags: ['customers'], summary: 'A guest shopper: tokens for a guest cart', response: { 201: GuestSession, ...problems } },
  }, async (_request, reply) => reply.code(201).send(await auth.startGuest()));

  app.post('/auth/refresh', {
    schema: { tags: ['sessions'], summary: 'Swap a refresh token for a new pair (the old one dies; reusing it ends the session)', body: RefreshRequest, response: { 200: TokenPair, ...problems } },
  }, async (request) => auth.refresh(request.body.refreshToken));

  app.post('/auth/signout', {
    schema: { tags: ['sessions'], summary: 'End the session of a refresh token', body: SignOutRequest, response: { 204: z.null().describe('signed out'), 400: problems[400] } },
  }, async (request, reply) => {
    await auth.signOut(request.body.refreshToken);
    return reply.code(204).send(null);
  });

  app.post('/auth/password', {
    schema: {
      tags: ['sessions'],
      summary: 'Change the password (Bearer access token): every session of the account ends, a new pair is returned',
      body: ChangePasswordRequest,
      response: { 200: TokenPair, ...problems },
    },
  }, async (request) => auth.changePassword(await caller(request), request.body));

  app.get('/auth/me', {
    schema: { tags: ['sessions'], summary: 'The account behind the access token (Bearer)', response: { 200: Me, ...problems } },
  }, async (request) => auth.me(await caller(request)));

  app.post('/auth/staff/signin', {
    schema: { tags: ['staff'], summary: 'Staff sign-in', body: StaffSignInRequest, response: { 200: StaffSession, ...problems } },
  }, async (request) => auth.staffSignIn(request.body));

  // Sign-up, guest and sign-in answers hold tokens, which are never stored: a repeated sign-up is a
  // sign-in to the same account (ADR 0008) and a second guest session costs nothing.
  app.post('/auth/staff', idempotency.route({
    schema: { tags: ['staff'], summary: 'Create a staff account (Bearer access token of an admin)', body: CreateStaffRequest, response: { 201: StaffMember, ...problems } },
    // Runs before the key is claimed: an unauthenticated request claims nothing.
    preHandler: async (request: FastifyRequest) => void verifiedCallers.set(request, await caller(request)),
  }), async (request, reply) => reply.code(201).send(await auth.createStaff(verifiedCallers.get(request)!, request.body)));
}
