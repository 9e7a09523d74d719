"""The peer: DuckDB reads the usage CSV and groups cost per Azure subscription and day. Prints wall seconds."""
import sys, time
import duckdb

path = sys.argv[1]
con = duckdb.connect()
t0 = time.perf_counter()
rows = con.execute(
    "SELECT EntitlementId, UsageDate, SUM(BillingPreTaxTotal) AS cost "
    "FROM read_csv(?, header = true) GROUP BY EntitlementId, UsageDate",
    [path],
).fetchall()
wall = time.perf_counter() - t0
assert rows, "no groups"
print(f"{wall:.3f}")
