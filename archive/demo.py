"""``portal-archive demo``: the main job end to end on the embedded sample portals.

Serves the sample portals on 127.0.0.1, crawls them all, indexes, runs sample searches,
exports the archive and ends with a summary.
"""

from __future__ import annotations

import time

from archive.config import Config
from archive.store import Archive

DEMO_PORT_BASE = 8701
DEMO_QUERIES = ("cai cach hanh chinh", '"sắp xếp đơn vị hành chính"', "139/kh-ubnd")
#: An old district typed without diacritics, and a 2025 ward formed from its wards.
DEMO_UNITS = ("quan thanh xuan", "phường Khương Đình, Hà Nội")


def run_demo(config: Config, *, quiet: bool = False) -> int:
    from archive.bundle import write_bundle
    from archive.cli import (
        print_runs,
        print_search,
        process_new_documents,
        run_crawls,
        update_index,
    )
    from archive.export import write_export
    from scraper.sample_portals import SampleWorld
    from search.backend import open_backend

    started = time.perf_counter()
    config.ensure()
    from archive.units import load_units

    archive = Archive(config)
    try:
        print("== administrative units: the gazetteer of both systems (before/after 1/7/2025)")
        loaded = load_units(archive)
        print(
            f"   {loaded.rows:,} rows (units, names, successions), "
            f"{loaded.units.inserted + loaded.names.inserted + loaded.successions.inserted:,} "
            f"new, in {loaded.seconds:.1f}s"
        )
    finally:
        archive.close()
    try:
        world = SampleWorld(port_base=DEMO_PORT_BASE).start()
    except OSError:
        # Fixed ports keep article URLs stable between demo runs (a re-run then shows
        # "unchanged"); if they are taken, serve on free ports instead.
        world = SampleWorld().start()
    try:
        registry_dir = config.data_dir / "sample-portals"
        registry_dir.mkdir(parents=True, exist_ok=True)
        world.write_registry(registry_dir)
        print(f"== serving {len(world.portals)} sample portals on 127.0.0.1")
        for slug in world.portals:
            print(f"   {slug:<18} {world.base_url(slug)}/")
        print("== crawling (robots.txt obeyed, delays off for 127.0.0.1)")
        runs = run_crawls(
            config,
            ["all"],
            portals_dir=str(registry_dir),
            allow_private=True,
            quiet=True,
            trigger="demo",
        )
    finally:
        world.stop()
    print_runs(runs)
    print("== attachments: text and official header of each downloaded file")
    n_docs = process_new_documents(config)
    print(f"   {n_docs} document(s) processed")
    print("== indexing")
    report = update_index(config)
    print(f"   {report.indexed} indexed, {report.unchanged} unchanged in {report.seconds:.1f}s")

    archive = Archive(config)
    try:
        index = open_backend(config, archive)
        for q in DEMO_QUERIES:
            print(f"== search: {q}")
            result = index.search(
                q, per_page=3, text_for=lambda aid: archive.bodies([aid]).get(aid)
            )
            print_search(result)
        from archive.unit_links import resolve_unit_filter

        for name in DEMO_UNITS:
            unit = resolve_unit_filter(archive, name)
            result = index.search("", units=unit.keys, per_page=3, sort="newest")
            print(f"== by unit: {name} → {unit.unit.label} ({unit.unit.key})")
            if unit.note:
                print(f"   {unit.note}")
            print_search(result)
        exports = config.data_dir / "exports"
        exports.mkdir(exist_ok=True)
        for fmt in ("jsonl", "csv"):
            path = exports / f"archive.{fmt}"
            with path.open("wb") as fh:
                n = write_export(archive.iter_articles(), fh, fmt)
            print(f"== exported {n} articles to {path}")
        path = exports / "archive.zip"
        with path.open("wb") as fh:
            bundle = write_bundle(archive, archive.iter_articles(), fh, description={"demo": True})
        print(
            f"== exported {bundle.articles} articles with {bundle.files} original files "
            f"to {path} (manifest, JSONL, CSV, texts, SHA256SUMS)"
        )
        summary = archive.summary()
        documents = archive.documents()
        failed_links = archive.failed_downloads()
    finally:
        archive.close()

    print("\n== summary")
    print(f"   data directory: {config.data_dir}")
    print(f"   portals: {len(summary['articles_per_portal'])}")
    for slug, n in summary["articles_per_portal"].items():
        print(f"     {slug:<18} {n} articles")
    print(
        f"   articles: {summary['articles']} ({summary['versions']} versions, "
        f"{summary['fetches']} responses kept)"
    )
    topics = summary["topics"]
    print(
        f"   topics: CCHC {topics.get('cchc', 0)}, ĐVHC {topics.get('dvhc', 0)}, "
        f"neither {topics.get('none', 0)}"
    )
    printed = sum(1 for d in documents if d["number_source"] == "header")
    completed = sum(1 for d in documents if (d["number_source"] or "").startswith("article:"))
    full = sum(1 for d in documents if d["meta_complete"])
    print(
        f"   attachments: {len(documents)} files stored once each; document number read "
        f"from {printed}, completed from the publishing article for {completed} draft(s); "
        f"header fully parsed in {full}"
    )
    if failed_links:
        print(f"   attachment links failed: {len(failed_links)} (`portal-archive documents`)")
    print(f"   finished in {time.perf_counter() - started:.1f}s")
    failed = [r for r in runs if r["status"] != "finished"]
    return 1 if failed or not summary["articles"] else 0
