import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The README's Quick start is examples/quick-start.ts, which tsc checks and test:package runs:
// the two must not drift apart.
it('the README shows examples/quick-start.ts verbatim', () => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const file = readFileSync(join(__dirname, '..', 'examples', 'quick-start.ts'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Quick start\n'), readme.indexOf('\n## How sign-in works\n'));
  expect(section).toContain(`\`\`\`ts\n${file}\`\`\`\n`);
});
