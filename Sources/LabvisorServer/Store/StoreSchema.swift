import GRDB

/// The state store's schema, as versioned migrations. A migration once released is never
/// edited: a change is a new migration (`v2`, ...) appended here. GRDB records the applied
/// ones in `grdb_migrations`, so opening an existing database applies only the new ones.
enum StoreSchema {
    /// The identifiers of every migration, in order.
    static let versions = ["v1"]

    /// The migrator that brings a database to the current schema.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // Known instruments: stable identity to name, first and last seen.
            try db.execute(sql: """
                CREATE TABLE instrument (
                    identity TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    driver TEXT NOT NULL,
                    first_seen REAL NOT NULL,
                    last_seen REAL NOT NULL
                );
                CREATE INDEX instrument_by_name ON instrument(name);

                -- One row per ended lease. Times are seconds since 1970 (UTC).
                CREATE TABLE allocation (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    lease TEXT NOT NULL,
                    holder TEXT NOT NULL,
                    uid INTEGER,
                    pid INTEGER,
                    instruments TEXT NOT NULL,      -- JSON array of names
                    requirements TEXT NOT NULL,     -- JSON: {"names": [...]} or {"where": {...}, "count": n}
                    queued_at REAL NOT NULL,
                    granted_at REAL NOT NULL,
                    released_at REAL NOT NULL,
                    duration REAL NOT NULL,
                    reason TEXT NOT NULL,           -- released, clientDisconnected, revoked, instrumentGone, shutdown
                    revoked_by TEXT,
                    detail TEXT
                );
                CREATE INDEX allocation_by_release ON allocation(released_at);

                -- Which instruments each allocation held, for the per-instrument history.
                CREATE TABLE allocation_instrument (
                    allocation INTEGER NOT NULL REFERENCES allocation(id) ON DELETE CASCADE,
                    instrument TEXT NOT NULL,
                    PRIMARY KEY (instrument, allocation)
                ) WITHOUT ROWID;

                -- Administrative actions.
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    time REAL NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    detail TEXT NOT NULL
                );
                CREATE INDEX audit_by_time ON audit(time);
                """)
        }
        return migrator
    }
}
