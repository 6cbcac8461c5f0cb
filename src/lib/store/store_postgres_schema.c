/* store_postgres_schema.c — the PostgreSQL backend's migrations: the same tables, columns and
 * version numbers (1..3) as store_sqlite.c, in PostgreSQL's SQL (JSON columns stay text), plus
 * what only a shared server needs (in 1, as no PostgreSQL database predates it): port_claims
 * with the exclusion constraint that makes PostgreSQL itself refuse a double claim,
 * claim_changes (what other instances read to refresh their port maps) and portreg_sync (the
 * durable write that makes asynchronous commits durable). docs/ARCHITECTURE.md explains why
 * the constraint is correct. Never edit a migration that shipped: add the next. */
#include <stddef.h>

#include "store/store.h"
#include "store/store_postgres.h"

static const char *const postgres_migrations[] = {
    "CREATE TABLE hosts (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, addresses text NOT NULL,"
    "  version bigint NOT NULL, created bigint, updated bigint);"
    "CREATE TABLE groups (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, hosts text NOT NULL,"
    "  version bigint NOT NULL);"
    "CREATE TABLE services (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, owner text,"
    "  version bigint NOT NULL);"
    "CREATE TABLE requests (id bigserial PRIMARY KEY, service text NOT NULL, hosts text NOT NULL,"
    "  proto text NOT NULL, port text NOT NULL, bind text NOT NULL, exposure text, owner text,"
    "  reason text, state text NOT NULL CHECK (state IN ('submitted','approved','rejected','withdrawn')),"
    "  requested_by text, decided_by text, assignments text, version bigint NOT NULL,"
    "  created bigint, updated bigint);"
    "CREATE INDEX requests_state ON requests(state);"
    "CREATE TABLE assignments (id bigserial PRIMARY KEY, service text NOT NULL, host text NOT NULL,"
    "  proto text NOT NULL, port_lo bigint NOT NULL CHECK (port_lo BETWEEN 1 AND 65535),"
    "  port_hi bigint NOT NULL CHECK (port_hi BETWEEN port_lo AND 65535), bind text NOT NULL,"
    "  owner text, state text NOT NULL CHECK (state IN ('active','quarantined','revoked','deassigned')),"
    "  quarantine_until bigint, request bigint REFERENCES requests(id), version bigint NOT NULL,"
    "  created bigint, updated bigint);"
    "CREATE INDEX assignments_claim ON assignments(host, proto, state, port_lo);"
    "CREATE TABLE leases (id bigserial PRIMARY KEY, service text NOT NULL, host text NOT NULL,"
    "  proto text NOT NULL, port bigint NOT NULL CHECK (port BETWEEN 1 AND 65535),"
    "  expires_at bigint NOT NULL, idempotency_key text UNIQUE,"
    "  state text NOT NULL CHECK (state IN ('active','released','expired')), holder text,"
    "  version bigint NOT NULL, created bigint, updated bigint);"
    "CREATE INDEX leases_claim ON leases(host, proto, state, port);"
    "CREATE INDEX leases_expiry ON leases(state, expires_at);"
    "CREATE TABLE tokens (id bigserial PRIMARY KEY, name text, role text NOT NULL"
    "  CHECK (role IN ('reader','requester','admin')), hash text NOT NULL UNIQUE,"
    "  created bigint NOT NULL, expires bigint, last_used bigint);"
    "CREATE TABLE events (id bigserial PRIMARY KEY, time bigint NOT NULL, actor text,"
    "  request_id text, kind text NOT NULL, object_kind text, object_id bigint, before text,"
    "  after text);"
    "CREATE INDEX events_request ON events(request_id);"
    "CREATE INDEX events_object ON events(object_kind, object_id);"
    "CREATE FUNCTION portreg_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN RAISE EXCEPTION 'events are append-only'; END $$;"
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events"
    "  FOR EACH ROW EXECUTE FUNCTION portreg_events_append_only();"
    "CREATE TABLE policy (key text PRIMARY KEY, value text NOT NULL);"
    /* ---- only in PostgreSQL: several instances share the database ---- */
    "CREATE EXTENSION IF NOT EXISTS btree_gist;"
    /* the addresses a bind scope means on a host, as net/bind_overlap.c: any and :: are both
     * families (dual stack), 0.0.0.0 IPv4 only, loopback 127.0.0.1 and ::1, an address name
     * of the host its address; an unknown name counts as every address (never too lax) */
    "CREATE FUNCTION portreg_scopes(p_host text, p_bind text) RETURNS SETOF inet LANGUAGE plpgsql STABLE AS $$"
    "DECLARE a text; addr inet;"
    "BEGIN"
    "  a := p_bind;"
    "  IF a IS NOT NULL AND a <> 'any' AND a <> 'loopback' AND a !~ '^[0-9.]+$' AND a !~ ':' THEN"
    "    SELECT h.addresses::jsonb ->> p_bind INTO a FROM hosts h WHERE h.name = p_host;"
    "  END IF;"
    "  IF a = 'loopback' THEN RETURN NEXT '127.0.0.1/32'::inet; RETURN NEXT '::1/128'::inet; RETURN; END IF;"
    "  BEGIN addr := a::inet; EXCEPTION WHEN others THEN addr := NULL; END;"
    "  IF addr IS NULL OR addr = '::'::inet THEN"
    "    RETURN NEXT '0.0.0.0/0'::inet; RETURN NEXT '::/0'::inet; RETURN; END IF;"
    "  IF addr = '0.0.0.0'::inet THEN RETURN NEXT '0.0.0.0/0'::inet; RETURN; END IF;"
    "  RETURN NEXT set_masklen(addr, CASE WHEN family(addr) = 4 THEN 32 ELSE 128 END);"
    "END $$;"
    /* one row per (claim, scope): PostgreSQL refuses two claims of one port, on overlapping
     * addresses, at overlapping times, by different owners (owner: the service of an
     * assignment, so a service's quarantine does not bar the service itself; a lease is
     * its own owner, so two leases never share a port) */
    "CREATE TABLE port_claims (claim_kind text NOT NULL, claim_id bigint NOT NULL, host text NOT NULL,"
    "  proto text NOT NULL, ports int4range NOT NULL, scope inet NOT NULL, during int8range NOT NULL,"
    "  owner text NOT NULL,"
    "  CONSTRAINT port_claims_no_overlap EXCLUDE USING gist (host WITH =, proto WITH =, ports WITH &&,"
    "    scope inet_ops WITH &&, during WITH &&, owner WITH <>));"
    "CREATE INDEX port_claims_of ON port_claims(claim_kind, claim_id);"
    "CREATE TABLE claim_changes (seq bigserial PRIMARY KEY, origin text, host text NOT NULL,"
    "  proto text NOT NULL, lo integer NOT NULL, hi integer NOT NULL);"
    "CREATE TABLE portreg_sync (slot integer PRIMARY KEY, n bigint NOT NULL);"
    "CREATE FUNCTION portreg_claims_of_assignment() RETURNS trigger LANGUAGE plpgsql AS $$"
    "BEGIN"
    "  IF TG_OP = 'UPDATE' THEN"
    "    IF OLD.state IS NOT DISTINCT FROM NEW.state AND OLD.port_lo = NEW.port_lo AND OLD.port_hi = NEW.port_hi"
    "       AND OLD.bind = NEW.bind AND OLD.quarantine_until IS NOT DISTINCT FROM NEW.quarantine_until"
    "       AND OLD.host = NEW.host AND OLD.proto = NEW.proto THEN RETURN NULL; END IF;"
    "    DELETE FROM port_claims WHERE claim_kind = 'a' AND claim_id = OLD.id;"
    "    INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES"
    "      (current_setting('portreg.origin', true), OLD.host, OLD.proto, OLD.port_lo, OLD.port_hi);"
    "  END IF;"
    "  IF NEW.state = 'active' OR NEW.state = 'quarantined' THEN"
    "    INSERT INTO port_claims SELECT 'a', NEW.id, NEW.host, NEW.proto,"
    "      int4range(NEW.port_lo::int, NEW.port_hi::int, '[]'), s,"
    "      CASE WHEN NEW.state = 'active' THEN int8range(coalesce(NEW.created, 0), NULL)"
    "           ELSE int8range(NULL, coalesce(NEW.quarantine_until, 0)) END,"
    "      NEW.service FROM portreg_scopes(NEW.host, NEW.bind) s;"
    "  END IF;"
    "  INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES"
    "    (current_setting('portreg.origin', true), NEW.host, NEW.proto, NEW.port_lo, NEW.port_hi);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER assignments_claims AFTER INSERT OR UPDATE ON assignments"
    "  FOR EACH ROW EXECUTE FUNCTION portreg_claims_of_assignment();"
    "CREATE FUNCTION portreg_claims_of_lease() RETURNS trigger LANGUAGE plpgsql AS $$"
    "BEGIN"
    "  IF TG_OP = 'UPDATE' THEN"
    "    IF OLD.state IS NOT DISTINCT FROM NEW.state AND OLD.port = NEW.port AND OLD.expires_at = NEW.expires_at"
    "    THEN RETURN NULL; END IF;"
    "    DELETE FROM port_claims WHERE claim_kind = 'l' AND claim_id = OLD.id;"
    "  END IF;"
    "  IF NEW.state = 'active' THEN"
    "    INSERT INTO port_claims SELECT 'l', NEW.id, NEW.host, NEW.proto, int4range(NEW.port::int, NEW.port::int, '[]'),"
    "      s, int8range(coalesce(NEW.created, 0), greatest(NEW.expires_at, coalesce(NEW.created, 0) + 1)),"
    "      'lease ' || NEW.id FROM unnest(ARRAY['0.0.0.0/0'::inet, '::/0'::inet]) s;"
    "  END IF;"
    "  IF TG_OP = 'UPDATE' AND OLD.state = 'active' AND NEW.state <> 'active' THEN"
    "    INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES"
    "      (current_setting('portreg.origin', true), NEW.host, NEW.proto, NEW.port, NEW.port);"
    "  ELSIF TG_OP = 'INSERT' THEN"
    "    INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES"
    "      (current_setting('portreg.origin', true), NEW.host, NEW.proto, NEW.port, NEW.port);"
    "  END IF;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER leases_claims AFTER INSERT OR UPDATE ON leases"
    "  FOR EACH ROW EXECUTE FUNCTION portreg_claims_of_lease();"
    /* a policy change is a change too (proto 'policy'): other instances reload it */
    "CREATE FUNCTION portreg_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
    "BEGIN INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES"
    "  (current_setting('portreg.origin', true), '', 'policy', 0, 0); RETURN NULL; END $$;"
    "CREATE TRIGGER policy_changes AFTER INSERT OR UPDATE ON policy"
    "  FOR EACH ROW EXECUTE FUNCTION portreg_policy_changed();",
    /* 2: as SQLite's 2 */
    "ALTER TABLE groups ADD COLUMN created bigint; ALTER TABLE groups ADD COLUMN updated bigint;"
    "ALTER TABLE services ADD COLUMN description text; ALTER TABLE services ADD COLUMN created bigint;"
    "ALTER TABLE services ADD COLUMN updated bigint;"
    "ALTER TABLE requests ADD COLUMN \"group\" text;"
    "ALTER TABLE assignments ADD COLUMN \"group\" text; ALTER TABLE assignments ADD COLUMN exposure text;"
    "CREATE INDEX assignments_group ON assignments(\"group\");"
    "ALTER TABLE leases ADD COLUMN requested_by text;",
    /* 3: as SQLite's 3 */
    "ALTER TABLE requests ADD COLUMN decision_reason text;",
    /* 4: as SQLite's 4 (agents and scans): the agent role and an agent token's host; the
     * latest report and the latest scan per host */
    "ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;"
    "ALTER TABLE tokens ADD CONSTRAINT tokens_role_check"
    "  CHECK (role IN ('reader','agent','requester','admin'));"
    "ALTER TABLE tokens ADD COLUMN host text;"
    "CREATE TABLE observations (id bigserial PRIMARY KEY, host text NOT NULL UNIQUE, seq bigint NOT NULL,"
    "  agent text, interval_s bigint, ephemeral text, reserved text, listeners text NOT NULL,"
    "  findings text, quiet text, reports bigint, last_seen bigint NOT NULL, version bigint NOT NULL,"
    "  created bigint, updated bigint);"
    "CREATE TABLE scans (id bigserial PRIMARY KEY, host text NOT NULL UNIQUE, time bigint NOT NULL,"
    "  scanner text, addresses text, open text NOT NULL, filtered text NOT NULL, version bigint NOT NULL,"
    "  created bigint, updated bigint);",
};

_Static_assert(sizeof postgres_migrations / sizeof postgres_migrations[0] == STORE_SCHEMA_VERSION,
               "a migration of store.h's schema version is missing");

const char *const *store_postgres_migrations(size_t *count)
{
    *count = sizeof postgres_migrations / sizeof postgres_migrations[0];
    return postgres_migrations;
}
