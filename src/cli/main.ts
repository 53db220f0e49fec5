#!/usr/bin/env node
import { main } from './program.js';

// Exit explicitly: a host's DataSource pool or queue timers must not keep a finished command alive.
main(process.argv).then(
  (code) => process.exit(code),
  () => process.exit(1),
);
