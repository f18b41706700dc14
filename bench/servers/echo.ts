/** A fixed token-endpoint-like JSON answer to every request, for bench/tools/http-client-cost.ts. */
import { fatal, serveHttp } from '../harness/serve';

const ANSWER = JSON.stringify({
  access_token: 'a'.repeat(43),
  token_type: 'Bearer',
  expires_in: 7200,
  refresh_token: 'r'.repeat(43),
  scope: 'uid:read',
  created_at: 1_700_000_000,
});

serveHttp((req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(ANSWER);
  });
}).catch(fatal);
