//! The conformance suite (tests/conformance/) on the PostgreSQL store,
//! each test in a schema of its own on the server that
//! `PERSEVERE_DURABLE_POSTGRES_URL` names; skipped, with a printed notice,
//! when it is not set.

mod conformance;
mod pg;

use conformance::Harness;
use persevere_durable::PostgresStore;

struct Postgres {
    url: String,
    schema: String,
}

impl Harness for Postgres {
    type Store = PostgresStore;
    const NAME: &'static str = "postgres";
    const UNSUPPORTED: &'static [&'static str] = &[];

    async fn setup() -> Option<Self> {
        let url = pg::url("the PostgreSQL conformance suite")?;
        let schema = pg::fresh_schema(&url).await;
        Some(Postgres { url, schema })
    }

    async fn open(&self) -> PostgresStore {
        pg::open(&self.url, &self.schema, 4).await
    }
}

conformance_suite!(Postgres);
