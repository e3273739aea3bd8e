"""A tour of Sessions: bike-share trips, wrangled with the standard library only.

Run it:            sessions run examples/tour.py
See what is stale: sessions status examples/tour.py
"""

import csv
import io
import statistics
from collections import Counter, defaultdict
from datetime import datetime

# %% [markdown]
# # Bike-share trips
#
# A week of trips from a small bike-share scheme. Each cell below is an
# ordinary Python cell; Sessions tracks which names each cell defines and
# uses, so when you edit one, it knows exactly which outputs are now stale.

# %% Raw data id="raw"
RAW = """\
trip,start,end,station_from,station_to,member,km
1,2026-11-16 07:58,2026-11-16 08:14,Harbour,Old Town,yes,3.1
2,2026-11-16 08:03,2026-11-16 08:41,University,Harbour,no,7.4
3,2026-11-16 12:30,2026-11-16 12:44,Old Town,Market,yes,2.2
4,2026-11-17 07:45,2026-11-17 08:02,Harbour,Old Town,yes,3.0
5,2026-11-17 17:20,2026-11-17 17:55,Market,University,no,6.8
6,2026-11-18 08:10,2026-11-18 08:21,Old Town,Harbour,yes,3.2
7,2026-11-18 18:05,2026-11-18 18:50,University,Lakeside,no,9.9
8,2026-11-19 07:50,2026-11-19 08:05,Harbour,Old Town,yes,3.1
9,2026-11-19 13:15,2026-11-19 13:20,Market,Old Town,no,0.9
10,2026-11-20 08:00,2026-11-20 08:19,Lakeside,Market,yes,4.4
11,2026-11-21 10:30,2026-11-21 11:45,Harbour,Lakeside,no,14.2
12,2026-11-22 11:00,2026-11-22 11:20,Old Town,Market,no,2.5
"""
print(f"{RAW.count(chr(10)) - 1} trips in the raw data")

# %% Parse
def parse_trip(row: dict[str, str]) -> dict[str, object]:
    """Turn one CSV row into typed values, with the duration in minutes."""
    start = datetime.fromisoformat(row["start"])
    end = datetime.fromisoformat(row["end"])
    return {
        "trip": int(row["trip"]),
        "start": start,
        "minutes": (end - start).total_seconds() / 60,
        "from": row["station_from"],
        "to": row["station_to"],
        "member": row["member"] == "yes",
        "km": float(row["km"]),
    }


trips = [parse_trip(row) for row in csv.DictReader(io.StringIO(RAW))]
len(trips)

# %% [markdown]
# Some trips are too short to be real rides (a dock check, a change of mind).
# We drop them. Try changing `MIN_MINUTES` and run `sessions status`: only the
# cells that depend on it turn stale.

# %% Clean
MIN_MINUTES = 6
trips = [t for t in trips if t["minutes"] >= MIN_MINUTES]  # a redefinition of `trips`
len(trips)

# %% Speed (a mutation: adds a field to every trip)
for t in trips:
    t["kmh"] = round(t["km"] / (t["minutes"] / 60), 1)
trips.sort(key=lambda t: t["kmh"], reverse=True)
[(t["trip"], t["kmh"]) for t in trips[:3]]

# %% Members versus casual riders
by_member = defaultdict(list)
for t in trips:
    by_member["member" if t["member"] else "casual"].append(t["minutes"])
{group: round(statistics.median(m), 1) for group, m in sorted(by_member.items())}

# %% Busiest routes
routes = Counter((t["from"], t["to"]) for t in trips)
for (origin, destination), n in routes.most_common(3):
    print(f"{origin:>10} → {destination:<10} {n} trip(s)")

# %% Commute hour
commute = [t for t in trips if 7 <= t["start"].hour < 9]
share = len(commute) / len(trips)
print(f"{share:.0%} of trips start between 7 and 9 am; fastest commute {max(t['kmh'] for t in commute)} km/h")
