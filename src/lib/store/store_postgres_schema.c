/* store_postgres_schema.c — the PostgreSQL backend's migrations: the same tables, columns and
 * version numbers (1..7) as store_sqlite.c, in PostgreSQL's SQL (JSON columns stay text), plus
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
    /* 5: lease batches in one round trip (store_postgres.c's lease_insert_batch). p_batch is a
     * JSON array of {row, actor, request_id}: row the lease's columns as the server dumped
     * them; the event's "after" is that same text with the new id added last, byte for byte
     * what the one-by-one path stores. First every lease at once (one INSERT, one
     * subtransaction; a port a committed claim holds is skipped by ON CONFLICT DO NOTHING,
     * the lease taken back and answered 'taken'); when anything refuses that (a claim not
     * committed after 5 ms, a key, a host), one by one, each in its own subtransaction
     * (an exception block), so one the exclusion constraint of port_claims refuses (23P01:
     * 'taken') or whose idempotency key exists (23505) changes nothing and the others go on.
     * Hosts are locked FOR KEY SHARE: not deleted under their leases. A port another
     * server's batch holds uncommitted is waited for 5 ms at most (lock_timeout: 'busy', the
     * walk goes on), so two batches that each want the other's port never wait for the
     * deadlock detector (1 s). A new lease's claims and change are written per statement
     * (a transition table) instead of per row; lease_taken marks such a change: other
     * servers mark it in their maps without reading the claims again. */
    "ALTER TABLE claim_changes ADD COLUMN lease_taken boolean NOT NULL DEFAULT false; "
    "CREATE OR REPLACE FUNCTION portreg_claims_of_lease() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "  IF OLD.state IS NOT DISTINCT FROM NEW.state AND OLD.port = NEW.port AND OLD.expires_at = NEW.expires_at "
    "  THEN RETURN NULL; END IF; "
    "  DELETE FROM port_claims WHERE claim_kind = 'l' AND claim_id = OLD.id; "
    "  IF NEW.state = 'active' THEN "
    "    INSERT INTO port_claims SELECT 'l', NEW.id, NEW.host, NEW.proto, int4range(NEW.port::int, NEW.port::int, '[]'), "
    "      s, int8range(coalesce(NEW.created, 0), greatest(NEW.expires_at, coalesce(NEW.created, 0) + 1)), "
    "      'lease ' || NEW.id FROM unnest(ARRAY['0.0.0.0/0'::inet, '::/0'::inet]) s; "
    "  END IF; "
    "  IF OLD.state = 'active' AND NEW.state <> 'active' THEN "
    "    INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES "
    "      (current_setting('portreg.origin', true), NEW.host, NEW.proto, NEW.port, NEW.port); "
    "  END IF; "
    "  RETURN NULL; "
    "END $$; "
    "DROP TRIGGER leases_claims ON leases; "
    "CREATE TRIGGER leases_claims AFTER UPDATE ON leases FOR EACH ROW EXECUTE FUNCTION portreg_claims_of_lease(); "
    "CREATE FUNCTION portreg_claims_of_new_leases() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    /* in a lease batch a refused claim is skipped (the batch then takes its lease back);
     * anywhere else it fails the statement */
    "  IF current_setting('portreg.lease_batch', true) = 'on' THEN "
    "    INSERT INTO port_claims SELECT 'l', n.id, n.host, n.proto, int4range(n.port::int, n.port::int, '[]'), "
    "      s, int8range(coalesce(n.created, 0), greatest(n.expires_at, coalesce(n.created, 0) + 1)), 'lease ' || n.id "
    "      FROM new_leases n, unnest(ARRAY['0.0.0.0/0'::inet, '::/0'::inet]) s WHERE n.state = 'active' "
    "      ON CONFLICT DO NOTHING; "
    "  ELSE "
    "  INSERT INTO port_claims SELECT 'l', n.id, n.host, n.proto, int4range(n.port::int, n.port::int, '[]'), "
    "    s, int8range(coalesce(n.created, 0), greatest(n.expires_at, coalesce(n.created, 0) + 1)), 'lease ' || n.id "
    "    FROM new_leases n, unnest(ARRAY['0.0.0.0/0'::inet, '::/0'::inet]) s WHERE n.state = 'active'; "
    "  END IF; "
    "  INSERT INTO claim_changes (origin, host, proto, lo, hi, lease_taken) "
    "    SELECT current_setting('portreg.origin', true), n.host, n.proto, n.port, n.port, n.state = 'active' "
    "    FROM new_leases n; "
    "  RETURN NULL; "
    "END $$; "
    "CREATE TRIGGER leases_claims_new AFTER INSERT ON leases REFERENCING NEW TABLE AS new_leases "
    "  FOR EACH STATEMENT EXECUTE FUNCTION portreg_claims_of_new_leases(); "
    "CREATE FUNCTION portreg_lease_batch(p_batch json, p_now bigint) "
    "  RETURNS TABLE (item integer, lease_id bigint, status text) LANGUAGE plpgsql AS $$ "
    "DECLARE e record; l leases; k integer := 0; new_id bigint; wanted integer; locked integer; "
    /* RETURN QUERY inside the block would keep its rows when the block fails: collected first */
    "  ords integer[]; ids bigint[]; refused bigint[]; "
    "BEGIN "
    "  PERFORM set_config('lock_timeout', '5ms', true); "
    "  BEGIN "
    "    SELECT count(DISTINCT x.\"row\" ->> 'host') INTO wanted FROM json_to_recordset(p_batch) AS x(\"row\" json); "
    "    SELECT count(*) INTO locked FROM (SELECT 1 FROM hosts WHERE name IN "
    "      (SELECT x.\"row\" ->> 'host' FROM json_to_recordset(p_batch) AS x(\"row\" json)) FOR KEY SHARE) h; "
    "    IF locked = wanted THEN "
    "      PERFORM set_config('portreg.lease_batch', 'on', true); "
    "      WITH b AS (SELECT x.ord::integer AS ord, lp.* "
    "                 FROM ROWS FROM (json_to_recordset(p_batch) AS (\"row\" json)) WITH ORDINALITY AS x(\"row\", ord), "
    "                      LATERAL json_populate_record(NULL::leases, x.\"row\") lp), "
    "           ins AS (INSERT INTO leases (service, host, proto, port, expires_at, idempotency_key, state, holder, "
    "                     requested_by, version, created, updated) "
    "                   SELECT b.service, b.host, b.proto, b.port, b.expires_at, b.idempotency_key, b.state, b.holder, "
    "                     b.requested_by, b.version, b.created, b.updated FROM b ORDER BY b.ord "
    "                   RETURNING leases.id, leases.host, leases.proto, leases.port) "
    "      SELECT array_agg(b.ord ORDER BY b.ord), array_agg(ins.id ORDER BY b.ord) INTO ords, ids "
    "        FROM b JOIN ins ON b.host = ins.host AND b.proto = ins.proto AND b.port = ins.port; "
    "      PERFORM set_config('portreg.lease_batch', 'off', true); "
    /* a lease whose claims (one per family) were not all written lost its port to a claim
     * committed before: taken back, answered 'taken' */
    "      SELECT array_agg(i) INTO refused FROM unnest(ids) i "
    "        WHERE (SELECT count(*) FROM port_claims c WHERE c.claim_kind = 'l' AND c.claim_id = i) < 2; "
    "      IF refused IS NOT NULL THEN "
    "        DELETE FROM port_claims WHERE claim_kind = 'l' AND claim_id = ANY (refused); "
    "        DELETE FROM leases WHERE id = ANY (refused); "
    "        ids := ARRAY(SELECT CASE WHEN u.i = ANY (refused) THEN NULL ELSE u.i END "
    "                     FROM unnest(ids) WITH ORDINALITY AS u(i, n) ORDER BY u.n); "
    "      END IF; "
    "      INSERT INTO events (time, actor, request_id, kind, object_kind, object_id, before, after) "
    "        SELECT p_now, x.actor, x.request_id, 'lease.created', 'leases', u.i, NULL, "
    "          left(x.\"row\"::text, -1) || ',\"id\":' || u.i || '}' "
    "        FROM ROWS FROM (json_to_recordset(p_batch) AS (\"row\" json, actor text, request_id text)) "
    "          WITH ORDINALITY AS x(\"row\", actor, request_id, ord) "
    "        JOIN unnest(ords, ids) AS u(o, i) ON u.o = x.ord WHERE u.i IS NOT NULL ORDER BY x.ord; "
    "    END IF; "
    "  EXCEPTION WHEN exclusion_violation OR unique_violation OR lock_not_available THEN "
    "    ords := NULL;   /* one by one below */ "
    "  END; "
    "  IF ords IS NOT NULL THEN "
    "    RETURN QUERY SELECT u.o, u.i, CASE WHEN u.i IS NULL THEN 'taken' ELSE 'ok' END FROM unnest(ords, ids) AS u(o, i); "
    "    RETURN; "
    "  END IF; "
    "  FOR e IN SELECT * FROM json_to_recordset(p_batch) AS x(\"row\" json, actor text, request_id text) LOOP "
    "    k := k + 1; item := k; lease_id := NULL; "
    "    l := json_populate_record(NULL::leases, e.\"row\"); "
    "    BEGIN "
    "      PERFORM 1 FROM hosts WHERE name = l.host FOR KEY SHARE; "
    "      IF NOT FOUND THEN status := 'unknown-host'; RETURN NEXT; CONTINUE; END IF; "
    "      INSERT INTO leases (service, host, proto, port, expires_at, idempotency_key, state, holder, "
    "          requested_by, version, created, updated) "
    "        VALUES (l.service, l.host, l.proto, l.port, l.expires_at, l.idempotency_key, l.state, l.holder, "
    "          l.requested_by, l.version, l.created, l.updated) "
    "        RETURNING id INTO new_id; "
    "      INSERT INTO events (time, actor, request_id, kind, object_kind, object_id, before, after) "
    "        VALUES (p_now, e.actor, e.request_id, 'lease.created', 'leases', new_id, NULL, "
    "          left(e.\"row\"::text, -1) || ',\"id\":' || new_id || '}'); "
    "      lease_id := new_id; status := 'ok'; "
    "    EXCEPTION "
    "      WHEN exclusion_violation THEN status := 'taken'; "
    "      WHEN unique_violation THEN status := 'key-exists'; "
    "      WHEN lock_not_available THEN status := 'busy'; "
    "    END; "
    "    RETURN NEXT; "
    "  END LOOP; "
    "END $$;",
    /* 6: one claim row where there were two. A scope is now an IPv6 range, IPv4 as
     * IPv4-mapped (::ffff:a.b.c.d/128, 0.0.0.0 is ::ffff:0:0/96), so the dual-stack wildcard
     * (any, ::) is the one row ::/0, which overlaps every address of both families. A lease
     * holds any: one row instead of two, which halves the exclusion constraint's work (the
     * GiST insert and its checks, twice each with ON CONFLICT): lease batches ran 1.8x as
     * many leases per second in PostgreSQL. The overlaps are the same as before (and as
     * net/bind_overlap.c, which reads an IPv4-mapped literal as the IPv4 address, as the
     * kernel binds it): IPv4 with IPv4 and IPv6 with IPv6 as before, an IPv4 scope and an
     * IPv6 address never (a mapped range is not an IPv6 address's), the wildcard with all.
     * Existing claims are converted under the constraint dropped and added again (which
     * checks them), its index now led by ports (1.5x as many leases a second in PostgreSQL
     * with 200,000 claims on a few hosts). The lease batch then writes its claims without ON CONFLICT (which checked
     * each twice) and every event in the leases' statement: a refused claim fails the
     * statement and the batch goes one by one, as a claim not committed in 5 ms did. */
    "CREATE OR REPLACE FUNCTION portreg_scope_inet(addr inet) RETURNS inet LANGUAGE sql IMMUTABLE AS $$ "
    "  SELECT CASE WHEN family(addr) = 6 THEN addr "
    "    ELSE set_masklen(('::ffff:' || host(addr))::inet, 96 + masklen(addr)) END $$; "
    "CREATE OR REPLACE FUNCTION portreg_scopes(p_host text, p_bind text) RETURNS SETOF inet LANGUAGE plpgsql STABLE AS $$ "
    "DECLARE a text; addr inet; "
    "BEGIN "
    "  a := p_bind; "
    "  IF a IS NOT NULL AND a <> 'any' AND a <> 'loopback' AND a !~ '^[0-9.]+$' AND a !~ ':' THEN "
    "    SELECT h.addresses::jsonb ->> p_bind INTO a FROM hosts h WHERE h.name = p_host; "
    "  END IF; "
    "  IF a = 'loopback' THEN RETURN NEXT '::ffff:127.0.0.1/128'::inet; RETURN NEXT '::1/128'::inet; RETURN; END IF; "
    "  BEGIN addr := a::inet; EXCEPTION WHEN others THEN addr := NULL; END; "
    "  IF addr IS NULL OR addr = '::'::inet THEN RETURN NEXT '::/0'::inet; RETURN; END IF; "
    "  IF addr = '0.0.0.0'::inet OR addr = '::ffff:0.0.0.0'::inet THEN RETURN NEXT '::ffff:0.0.0.0/96'::inet; RETURN; END IF; "
    "  RETURN NEXT portreg_scope_inet(set_masklen(addr, CASE WHEN family(addr) = 4 THEN 32 ELSE 128 END)); "
    "END $$; "
    "ALTER TABLE port_claims DROP CONSTRAINT port_claims_no_overlap; "
    "DELETE FROM port_claims v4 USING port_claims v6 WHERE v4.claim_kind = v6.claim_kind "
    "  AND v4.claim_id = v6.claim_id AND v4.scope = '0.0.0.0/0'::inet AND v6.scope = '::/0'::inet; "
    "UPDATE port_claims SET scope = portreg_scope_inet(scope) WHERE family(scope) = 4; "
    /* the same constraint, its index led by ports: GiST orders its tree by the first column,
     * and with one host (the usual case) host and proto told the pages apart not at all */
    "ALTER TABLE port_claims ADD CONSTRAINT port_claims_no_overlap EXCLUDE USING gist (ports WITH &&, "
    "  host WITH =, proto WITH =, scope inet_ops WITH &&, during WITH &&, owner WITH <>); "
    "CREATE OR REPLACE FUNCTION portreg_claims_of_lease() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "  IF OLD.state IS NOT DISTINCT FROM NEW.state AND OLD.port = NEW.port AND OLD.expires_at = NEW.expires_at "
    "  THEN RETURN NULL; END IF; "
    "  DELETE FROM port_claims WHERE claim_kind = 'l' AND claim_id = OLD.id; "
    "  IF NEW.state = 'active' THEN "
    "    INSERT INTO port_claims VALUES ('l', NEW.id, NEW.host, NEW.proto, int4range(NEW.port::int, NEW.port::int, '[]'), "
    "      '::/0', int8range(coalesce(NEW.created, 0), greatest(NEW.expires_at, coalesce(NEW.created, 0) + 1)), "
    "      'lease ' || NEW.id); "
    "  END IF; "
    "  IF OLD.state = 'active' AND NEW.state <> 'active' THEN "
    "    INSERT INTO claim_changes (origin, host, proto, lo, hi) VALUES "
    "      (current_setting('portreg.origin', true), NEW.host, NEW.proto, NEW.port, NEW.port); "
    "  END IF; "
    "  RETURN NULL; "
    "END $$; "
    "CREATE OR REPLACE FUNCTION portreg_claims_of_new_leases() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "  INSERT INTO port_claims SELECT 'l', n.id, n.host, n.proto, int4range(n.port::int, n.port::int, '[]'), "
    "    '::/0', int8range(coalesce(n.created, 0), greatest(n.expires_at, coalesce(n.created, 0) + 1)), 'lease ' || n.id "
    "    FROM new_leases n WHERE n.state = 'active'; "
    "  INSERT INTO claim_changes (origin, host, proto, lo, hi, lease_taken) "
    "    SELECT current_setting('portreg.origin', true), n.host, n.proto, n.port, n.port, n.state = 'active' "
    "    FROM new_leases n; "
    "  RETURN NULL; "
    "END $$; "
    "CREATE OR REPLACE FUNCTION portreg_lease_batch(p_batch json, p_now bigint) "
    "  RETURNS TABLE (item integer, lease_id bigint, status text) LANGUAGE plpgsql AS $$ "
    "DECLARE e record; l leases; k integer := 0; new_id bigint; wanted integer; locked integer; "
    /* RETURN QUERY inside the block would keep its rows when the block fails: collected first */
    "  ords integer[]; ids bigint[]; "
    "BEGIN "
    "  PERFORM set_config('lock_timeout', '5ms', true); "
    "  BEGIN "
    "    SELECT count(DISTINCT x.\"row\" ->> 'host') INTO wanted FROM json_to_recordset(p_batch) AS x(\"row\" json); "
    "    SELECT count(*) INTO locked FROM (SELECT 1 FROM hosts WHERE name IN "
    "      (SELECT x.\"row\" ->> 'host' FROM json_to_recordset(p_batch) AS x(\"row\" json)) FOR KEY SHARE) h; "
    "    IF locked = wanted THEN "
    /* every lease and its event in one statement; a claim refused fails it all (the one by
     * one below then answers each) */
    "      WITH b AS (SELECT x.ord::integer AS ord, x.\"row\" AS doc, x.actor AS by_actor, x.request_id AS by_request, lp.* "
    "                 FROM ROWS FROM (json_to_recordset(p_batch) AS (\"row\" json, actor text, request_id text)) "
    "                   WITH ORDINALITY AS x(\"row\", actor, request_id, ord), "
    "                      LATERAL json_populate_record(NULL::leases, x.\"row\") lp), "
    "           ins AS (INSERT INTO leases (service, host, proto, port, expires_at, idempotency_key, state, holder, "
    "                     requested_by, version, created, updated) "
    "                   SELECT b.service, b.host, b.proto, b.port, b.expires_at, b.idempotency_key, b.state, b.holder, "
    "                     b.requested_by, b.version, b.created, b.updated FROM b ORDER BY b.ord "
    "                   RETURNING leases.id, leases.host, leases.proto, leases.port), "
    "           j AS (SELECT b.ord, ins.id, b.doc, b.by_actor, b.by_request FROM b "
    "                 JOIN ins ON b.host = ins.host AND b.proto = ins.proto AND b.port = ins.port), "
    "           ev AS (INSERT INTO events (time, actor, request_id, kind, object_kind, object_id, before, after) "
    "                  SELECT p_now, j.by_actor, j.by_request, 'lease.created', 'leases', j.id, NULL, "
    "                    left(j.doc::text, -1) || ',\"id\":' || j.id || '}' FROM j ORDER BY j.ord) "
    "      SELECT array_agg(j.ord ORDER BY j.ord), array_agg(j.id ORDER BY j.ord) INTO ords, ids FROM j; "
    "    END IF; "
    "  EXCEPTION WHEN exclusion_violation OR unique_violation OR lock_not_available THEN "
    "    ords := NULL;   /* one by one below */ "
    "  END; "
    "  IF ords IS NOT NULL THEN "
    "    RETURN QUERY SELECT u.o, u.i, CASE WHEN u.i IS NULL THEN 'taken' ELSE 'ok' END FROM unnest(ords, ids) AS u(o, i); "
    "    RETURN; "
    "  END IF; "
    "  FOR e IN SELECT * FROM json_to_recordset(p_batch) AS x(\"row\" json, actor text, request_id text) LOOP "
    "    k := k + 1; item := k; lease_id := NULL; "
    "    l := json_populate_record(NULL::leases, e.\"row\"); "
    "    BEGIN "
    "      PERFORM 1 FROM hosts WHERE name = l.host FOR KEY SHARE; "
    "      IF NOT FOUND THEN status := 'unknown-host'; RETURN NEXT; CONTINUE; END IF; "
    "      INSERT INTO leases (service, host, proto, port, expires_at, idempotency_key, state, holder, "
    "          requested_by, version, created, updated) "
    "        VALUES (l.service, l.host, l.proto, l.port, l.expires_at, l.idempotency_key, l.state, l.holder, "
    "          l.requested_by, l.version, l.created, l.updated) "
    "        RETURNING id INTO new_id; "
    "      INSERT INTO events (time, actor, request_id, kind, object_kind, object_id, before, after) "
    "        VALUES (p_now, e.actor, e.request_id, 'lease.created', 'leases', new_id, NULL, "
    "          left(e.\"row\"::text, -1) || ',\"id\":' || new_id || '}'); "
    "      lease_id := new_id; status := 'ok'; "
    "    EXCEPTION "
    "      WHEN exclusion_violation THEN status := 'taken'; "
    "      WHEN unique_violation THEN status := 'key-exists'; "
    "      WHEN lock_not_available THEN status := 'busy'; "
    "    END; "
    "    RETURN NEXT; "
    "  END LOOP; "
    "END $$; "
    /* a lease round in one round trip, a transaction of its own: the writers' lock taken
     * shared (beside other rounds, never beside a write transaction), committed durably
     * (synchronous_commit on: a shared lock held through the WAL flush holds up no other
     * round, and the separate durable write that a write transaction needs is saved; lease
     * rounds ran 1.1-1.2x as fast so); then the claim changes
     * since p_seq, as store_postgres.c's pg_claim_changes reads them (a window of p_window),
     * which the server applies to its maps. A policy another server changed since p_seq
     * (committed before this round took the lock, or it waits for this round) inserts
     * nothing: the server reads it and picks again. */
    "CREATE FUNCTION portreg_lease_round(p_batch json, p_now bigint, p_lock bigint, p_seq bigint, p_origin text, "
    "    p_window bigint) "
    "  RETURNS TABLE (item integer, lease_id bigint, status text, seq bigint, host text, proto text, lo integer, "
    "    hi integer, mine boolean, first bigint, lease_taken boolean, last bigint) LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "  PERFORM pg_advisory_xact_lock_shared(p_lock); "
    "  IF NOT EXISTS (SELECT 1 FROM claim_changes c WHERE c.seq > p_seq AND c.seq <= p_seq + p_window "
    "                 AND c.proto = 'policy' AND c.origin IS DISTINCT FROM p_origin) THEN "
    "    RETURN QUERY SELECT b.item, b.lease_id, b.status, NULL::bigint, NULL::text, NULL::text, NULL::integer, "
    "      NULL::integer, NULL::boolean, NULL::bigint, NULL::boolean, NULL::bigint "
    "      FROM portreg_lease_batch(p_batch, p_now) b; "
    "  END IF; "
    "  RETURN QUERY SELECT NULL::integer, NULL::bigint, NULL::text, c.seq, c.host, c.proto, c.lo, c.hi, "
    "    c.origin IS NOT DISTINCT FROM p_origin, m.first, c.lease_taken, m.last "
    "    FROM (SELECT min(claim_changes.seq) AS first, max(claim_changes.seq) AS last FROM claim_changes) m "
    "    LEFT JOIN claim_changes c ON c.seq > p_seq AND c.seq <= p_seq + p_window ORDER BY c.seq; "
    "END $$;",
    /* 7: a host's addresses change under its assignments. An assignment bound by an address
     * name has the name's address in its claims (portreg_scopes at insert time), so when the
     * name moves, comes or goes, the claims of the host's active and quarantined assignments
     * bound by it are written again, with the expressions of portreg_claims_of_assignment, and
     * a claim_changes row each tells the other servers (their port maps). The exclusion
     * constraint checks the new claims: an overlap (23P01) fails the host's update, which the
     * ledger refuses before (ledger_check_host_addresses). A quarantine that has ended by the
     * update's time (the host's updated, the ledger's clock) holds nothing from then on and no
     * later claim can meet it: its claims go, not written again (the ledger counts it out too). */
    "CREATE FUNCTION portreg_claims_of_host() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE moved bigint[]; "
    "BEGIN "
    "  SELECT array_agg(a.id) INTO moved FROM assignments a "
    "    WHERE a.host = NEW.name AND a.state IN ('active', 'quarantined') "
    "      AND a.bind <> 'any' AND a.bind <> 'loopback' AND a.bind !~ '^[0-9.]+$' AND a.bind !~ ':' "
    "      AND (OLD.addresses::jsonb ->> a.bind) IS DISTINCT FROM (NEW.addresses::jsonb ->> a.bind); "
    "  IF moved IS NULL THEN RETURN NULL; END IF; "
    "  DELETE FROM port_claims WHERE claim_kind = 'a' AND claim_id = ANY (moved); "
    "  INSERT INTO port_claims SELECT 'a', a.id, a.host, a.proto, int4range(a.port_lo::int, a.port_hi::int, '[]'), s, "
    "      CASE WHEN a.state = 'active' THEN int8range(coalesce(a.created, 0), NULL) "
    "           ELSE int8range(NULL, coalesce(a.quarantine_until, 0)) END, "
    "      a.service "
    "    FROM assignments a, portreg_scopes(a.host, a.bind) s "
    "    WHERE a.id = ANY (moved) AND (a.state = 'active' OR coalesce(a.quarantine_until, 0) > coalesce(NEW.updated, 0)); "
    "  INSERT INTO claim_changes (origin, host, proto, lo, hi) "
    "    SELECT current_setting('portreg.origin', true), a.host, a.proto, a.port_lo, a.port_hi "
    "    FROM assignments a WHERE a.id = ANY (moved) ORDER BY a.id; "
    "  RETURN NULL; "
    "END $$; "
    "CREATE TRIGGER hosts_claims AFTER UPDATE OF addresses ON hosts FOR EACH ROW "
    "  WHEN (OLD.addresses IS DISTINCT FROM NEW.addresses) EXECUTE FUNCTION portreg_claims_of_host();",
};

_Static_assert(sizeof postgres_migrations / sizeof postgres_migrations[0] == STORE_SCHEMA_VERSION,
               "a migration of store.h's schema version is missing");

const char *const *store_postgres_migrations(size_t *count)
{
    *count = sizeof postgres_migrations / sizeof postgres_migrations[0];
    return postgres_migrations;
}
