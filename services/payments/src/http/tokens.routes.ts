import { CardToken, TokenizeCardRequest } from '@emporium/contracts';
import { problemResponses, type Db, type HttpApp, type Idempotency } from '@emporium/platform';
import { tokenizeCard } from '../providers/sandbox';

/** The sandbox processor's tokenization endpoint (a real processor tokenizes on its own servers). */
export function tokensRoutes(app: HttpApp, db: Db, idempotency: Idempotency): void {
  app.post('/api/payments/tokens', idempotency.route({
    schema: {
      tags: ['sandbox'],
      summary: 'Exchange a test card for a token (sandbox processor); the number and CVC are never stored',
      body: TokenizeCardRequest,
      response: { 201: CardToken, ...problemResponses },
    },
  }), async (request, reply) => reply.code(201).send(await tokenizeCard(db, request.body, new Date())));
}
