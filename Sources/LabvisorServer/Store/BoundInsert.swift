import GRDB
import GRDBSQLite

/// A cached `INSERT` whose values are bound and stepped through SQLite's C API: for the
/// store's per-record inserts, where GRDB's `StatementArguments` (an existential box and a
/// `DatabaseValue` per value) cost about as much CPU as SQLite itself
/// (`docs/benchmarks.md`, "Session 8"). The statement stays GRDB's (compiled once per
/// connection, finalized with it); only the binding and the step bypass it.
struct BoundInsert {
    private let statement: Statement
    private let db: Database

    /// The connection's cached statement for `sql`, which has one `?` per value bound.
    init(_ sql: String, in db: Database) throws {
        statement = try db.cachedStatement(sql: sql)
        self.db = db
    }

    /// Binds the values `bind` gives, in parameter order, and runs the insert once.
    ///
    /// - Throws: GRDB's `DatabaseError` (SQLite's code and message) when a value does not
    ///   bind or the insert fails (a constraint, a full disk).
    func execute(_ bind: (inout Values) throws -> Void) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        var values = Values(handle: handle)
        try bind(&values)
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE else { throw failure(code) }
    }

    private func failure(_ code: Int32) -> DatabaseError {
        let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    /// The values of one execution, bound in parameter order (1, 2, ...).
    struct Values {
        fileprivate let handle: OpaquePointer
        private var index: Int32 = 1

        fileprivate init(handle: OpaquePointer) { self.handle = handle }

        /// `SQLITE_TRANSIENT`: SQLite copies the text before the call returns.
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

        mutating func text(_ value: String?) throws {
            // `withCString`: a native string's own bytes, where passing the `String` itself
            // would copy it into a new array first.
            let (handle, index) = (self.handle, self.index)
            try check(value.map { $0.withCString { sqlite3_bind_text(handle, index, $0, -1, Self.transient) } } ?? sqlite3_bind_null(handle, index))
        }

        mutating func integer(_ value: Int64?) throws {
            try check(value.map { sqlite3_bind_int64(handle, index, $0) } ?? sqlite3_bind_null(handle, index))
        }

        mutating func real(_ value: Double) throws {
            try check(sqlite3_bind_double(handle, index, value))
        }

        private mutating func check(_ code: Int32) throws {
            guard code == SQLITE_OK else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind parameter \(index)")
            }
            index += 1
        }
    }
}
