/**
 * The example CRM:   npm run example        (PORT=3000 by default; DATABASE_URL=postgres://... for PostgreSQL)
 */
import { createCrmApp, databaseFromEnv } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const database = databaseFromEnv();
const crm = await createCrmApp({ database });
const server = crm.app.listen(port, () => {
  const where = database.type === 'better-sqlite3' ? `SQLite ${database.database === ':memory:' ? 'in memory' : database.database}` : database.type;
  console.log(`Example CRM on ${where}: http://localhost:${port}/`);
  console.log(`  sign in as Alice Martin (admin) and open http://localhost:${port}/privacy/dashboard`);
});

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  crm.close().then(
    () => process.exit(0),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
