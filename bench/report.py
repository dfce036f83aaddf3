"""Turns bench/run.sh's raw rows into results.md, chart.svg and the ratio lines.

Usage: python3 bench/report.py <raw.tsv> <out dir> "<machine description>"
"""
import csv
import datetime
import sys

raw, out, machine = sys.argv[1:4]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
for r in rows:
    for k in ("rps", "p50_us", "p99_us", "p999_us", "cpu_s_per_10k", "peak_rss_mb"):
        r[k] = float(r[k])
    r["connections"] = int(r["connections"])
    r["errors"] = int(r["errors"])

# A contender measured in several rounds (BENCH_ROUNDS, alternating) is reported as the median
# of its rounds, with the spread (min-max) kept for the table (errors summed), in the order
# first measured. The ratio lines are ratios of medians.
merged = {}
for r in rows:
    key = (r["series"], r["contender"], r["route"], r["connections"])
    if key not in merged:
        merged[key] = dict(r, rounds=[])
    merged[key]["rounds"].append(r)
rows = []
for m in merged.values():
    rounds = m.pop("rounds")
    for k in ("rps", "p50_us", "p99_us", "p999_us", "cpu_s_per_10k"):
        values = sorted(r[k] for r in rounds)
        mid = len(values) // 2
        m[k] = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
        m[k + "_spread"] = (values[0], values[-1])
    m["peak_rss_mb"] = max(r["peak_rss_mb"] for r in rounds)
    m["errors"] = sum(r["errors"] for r in rounds)
    m["n"] = len(rounds)
    rows.append(m)

CONTENDERS = ["ours", "handwritten", "nest-fastify", "nest-express", "nest12-fastify"]
today = datetime.date.today().isoformat()

def cell(series, contender, route, conns):
    for r in rows:
        if (r["series"], r["contender"], r["route"], r["connections"]) == (series, contender, route, conns):
            return r
    return None

lines = [
    f"# Gateway benchmark ({today})",
    "",
    f"Machine: {machine}. wrk (1 thread) and the services pinned to core 0, the gateway alone on",
    "the last core; figures are for comparing contenders within one run.",
    "Latency in ms; CPU = gateway CPU seconds per 10k requests (from /proc); RSS = peak; each figure",
    "is the median of `runs` rounds, every contender measured once per round in alternating order,",
    "with the spread (min-max) under it when there are several.",
    "",
    "| downstream | gateway | route | conns | req/s | p50 | p99 | p99.9 | CPU s/10k | RSS MB | errors | runs |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
]
def shown(r, key, fmt, scale=1.0):
    """The median, and its spread when there were several rounds."""
    value = format(r[key] / scale, fmt)
    low, high = r[key + "_spread"]
    if r["n"] > 1:
        value += f" ({format(low / scale, fmt)}–{format(high / scale, fmt)})"
    return value

for r in rows:
    lines.append(
        f"| {r['series']} | {r['contender']} | {r['route']} | {r['connections']} | {shown(r, 'rps', '.0f')} | "
        f"{shown(r, 'p50_us', '.2f', 1000)} | {shown(r, 'p99_us', '.2f', 1000)} | {shown(r, 'p999_us', '.2f', 1000)} | "
        f"{shown(r, 'cpu_s_per_10k', '.3f')} | {r['peak_rss_mb']:.0f} | {r['errors']} | {r['n']} |"
    )

# Ratios: the profile route, our services downstream, 64 connections.
ratios = []
def ratio(name, a, b, key, invert=False):
    if a and b and b[key] > 0 and a[key] > 0:
        value = (b[key] / a[key]) if invert else (a[key] / b[key])
        # The spread of the ratio: the worst and best pairing of the two cells' rounds.
        (alo, ahi), (blo, bhi) = a[key + "_spread"], b[key + "_spread"]
        low, high = (alo / bhi, ahi / blo) if not invert else (blo / ahi, bhi / alo)
        spread = f" ({low:.2f}-{high:.2f}, {min(a['n'], b['n'])} rounds)" if min(a["n"], b["n"]) > 1 else " (1 round)"
        ratios.append(f"ratio {name}: {value:.2f}{spread}")
base = ("rust", "/users/42/profile", 64)
ours = cell(base[0], "ours", base[1], base[2])
fastify = cell(base[0], "nest-fastify", base[1], base[2])
hand = cell(base[0], "handwritten", base[1], base[2])
ratio("ours/nest-fastify rps", ours, fastify, "rps")
ratio("ours/nest-fastify p99", ours, fastify, "p99_us")
ratio("ours/nest-fastify cpu-per-request", ours, fastify, "cpu_s_per_10k")
ratio("ours/handwritten rps", ours, hand, "rps")
ratio("ours/handwritten p99", ours, hand, "p99_us")
ratio("ours/handwritten cpu-per-request", ours, hand, "cpu_s_per_10k")
# The NATS series: every gateway and service over NATS, our services behind.
nats_ours = cell("rust-nats", "ours", base[1], base[2])
nats_fastify = cell("rust-nats", "nest-fastify", base[1], base[2])
ratio("ours/nest-fastify nats rps", nats_ours, nats_fastify, "rps")
ratio("ours/nest-fastify nats p99", nats_ours, nats_fastify, "p99_us")
ratio("ours/nest-fastify nats cpu-per-request", nats_ours, nats_fastify, "cpu_s_per_10k")
# Instructions per request (callgrind), when run.sh could count them.
instr = {}
try:
    for r in csv.DictReader(open(f"{out}/instructions.tsv"), delimiter="\t"):
        instr[r["contender"]] = int(r["instructions_per_request"])
except (FileNotFoundError, KeyError, ValueError):
    pass
if "ours" in instr and "handwritten" in instr:
    lines += ["", "User-space instructions per profile request (callgrind, our services, 16 connections; the",
              "steady figure: the kernel's share is the same for both):", "",
              "| gateway | instructions / request |", "| --- | ---: |"]
    lines += [f"| {c} | {instr[c]} |" for c in ("ours", "handwritten")]
    ratios.append(f"ratio ours/handwritten instructions-per-request: {instr['ours'] / instr['handwritten']:.2f}")
lines += ["", "Ratios (GET /users/42/profile, our services (over TCP; `nats`: over NATS), 64 connections; below 1 is better for p99 and CPU):", ""]
lines += [f"    {r}" for r in ratios]
lines += ["", "![requests per second](chart.svg)", ""]
open(f"{out}/results.md", "w").write("\n".join(lines))

# Chart: req/s per contender, profile route, each series and connection count.
groups = [(s, c) for s in ("rust", "nest", "rust-nats", "nest-nats") for c in sorted({r["connections"] for r in rows}) if cell(s, "ours", "/users/42/profile", c)]
colors = {"ours": "#d2691e", "handwritten": "#8b4513", "nest-fastify": "#4682b4", "nest-express": "#9acd32", "nest12-fastify": "#6a5acd"}
width, height, left, bottom, top = max(760, 80 + 180 * len(groups)), 360, 60, 60, 30
peak = max([r["rps"] for r in rows if r["route"] == "/users/42/profile"] + [1])
group_w = (width - left - 20) / max(len(groups), 1)
bar_w = group_w / (len(CONTENDERS) + 1)
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
       f'<text x="{left}" y="18" font-size="13">GET /users/42/profile, requests/s ({today}; {machine})</text>',
       f'<line x1="{left}" y1="{height-bottom}" x2="{width-10}" y2="{height-bottom}" stroke="#333"/>']
for gi, (series, conns) in enumerate(groups):
    x0 = left + gi * group_w
    for ci, contender in enumerate(CONTENDERS):
        r = cell(series, contender, "/users/42/profile", conns)
        if not r:
            continue
        h = (height - bottom - top) * r["rps"] / peak
        x = x0 + (ci + 0.5) * bar_w
        svg.append(f'<rect x="{x:.1f}" y="{height-bottom-h:.1f}" width="{bar_w*0.9:.1f}" height="{h:.1f}" fill="{colors[contender]}"/>')
        svg.append(f'<text x="{x+bar_w*0.45:.1f}" y="{height-bottom-h-3:.1f}" text-anchor="middle">{r["rps"]:.0f}</text>')
    svg.append(f'<text x="{x0+group_w/2:.1f}" y="{height-bottom+16}" text-anchor="middle">{series} services, {conns} conns</text>')
for ci, contender in enumerate(CONTENDERS):
    svg.append(f'<rect x="{left+ci*150}" y="{height-22}" width="12" height="12" fill="{colors[contender]}"/>')
    svg.append(f'<text x="{left+ci*150+16}" y="{height-12}">{contender}</text>')
svg.append("</svg>")
open(f"{out}/chart.svg", "w").write("\n".join(svg))

table = next(i for i, line in enumerate(lines) if line.startswith("| downstream"))
print("\n".join(lines[table:table + len(rows) + 2]))
for r in ratios:
    print(r)
