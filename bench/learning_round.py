"""Bench: does one GRPO round against Kiln's own scorer make Kiln's own model better?

    .venv/bin/python bench/learning_round.py                     # bootstrap `small`/spec, then one round
    .venv/bin/python bench/learning_round.py --base var/models/small-spec   # reuse a bootstrapped base
    .venv/bin/python bench/learning_round.py --n 20 --grpo-steps 10 --size tiny   # a quick look

In one run, on a scratch database of its own:

1. a `small` spec-mode base is bootstrapped (training.base_model: synthetic corpus with >= 1,000 nouns,
   tokenizer, model from config, SFT), or an existing one is reused; its held-out entity accuracy, valid
   spec rate and field F1 come from its bootstrap.json;
2. vLLM's CPU build serves it (training.serving);
3. one GRPO round trains a LoRA adapter whose reward is Kiln's scorer (training.scoring: valid spec,
   right entity, field F1; the sandbox's build and smoke test for the evaluation's sampled prompts), on
   training prompts that name fresh invented nouns the base never saw (--prompt-nouns; the defaults are
   the options that met the goal on kiln-small-spec-5, docs/learning.md);
4. the adapter is loaded into the running server and the round and its base answer the same --n
   held-out prompts with unseen nouns through Kiln's real turn path (training.evaluation), the first
   --sandbox-sample of them built and smoke-tested in the sandbox; the offline blueprint model answers
   --blueprint-n of them too, for tokens per working app;
5. the tables (each rate with its 95 % bootstrap interval, and the paired round - base difference in
   reward) are printed and written to OUT/report.md with the figures as JSON in OUT/result.json.

Goal (docs/learning.md): on >= 100 held-out prompts the round raises mean held-out reward by >= 0.05
with a 95 % interval that excludes zero, the round (training + evaluation) in under 45 minutes on a
2-core machine.
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "learning-round")
    parser.add_argument("--base", type=Path, help="a bootstrapped base's folder (default: bootstrap one)")
    parser.add_argument("--size", default="small")
    parser.add_argument("--n", type=int, default=100, help="held-out prompts (unseen nouns)")
    parser.add_argument("--sandbox-sample", type=int, default=10, help="of them built and smoke-tested")
    parser.add_argument("--blueprint-n", type=int, default=10, help="of them answered by the offline model")
    parser.add_argument("--grpo-steps", type=int, default=400)
    parser.add_argument("--prompts", type=int, default=1024, help="training prompts GRPO samples from")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--prompt-nouns", choices=("fresh", "training"), default="fresh",
                        help="GRPO's training prompts: fresh invented nouns, or the bootstrap's own")
    parser.add_argument("--temperature", type=float, default=0.5, help="GRPO's sampling temperature")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{args.out / 'bench.sqlite3'}")
    os.environ.setdefault("KILN_INSTANCE", "bench-learning")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_CACHE", str(args.out / "hf-cache"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings

    from generation.models import ModelVersion
    from sandbox import docker_driver
    from sandbox.image import ensure_runtime_image
    from training import base_model, corpus, evaluation, serving
    from training.rounds import train_round

    call_command("migrate", verbosity=0)
    ensure_runtime_image()
    result: dict = {"args": {k: str(v) for k, v in vars(args).items()}}
    started = time.monotonic()

    base_dir = args.base or args.out / f"{args.size}-spec"
    if not (base_dir / "config.json").exists():
        print(f"bootstrapping a {args.size} spec-mode base into {base_dir}", flush=True)
        base_model.bootstrap(base_dir, size=args.size, target="spec", seed=args.seed)
    bootstrap = json.loads((base_dir / "bootstrap.json").read_text())
    result["bootstrap"] = {k: bootstrap.get(k) for k in ("size", "parameters", "corpus", "steps", "held_out",
                                                          "seconds", "peak_rss_mb", "command")}
    print("bootstrap:", json.dumps(result["bootstrap"]["held_out"]), flush=True)

    name = f"bench-{base_dir.name}"
    base = ModelVersion.objects.filter(name=name).first() or base_model.register_base(base_dir, name=name)
    blueprint = ModelVersion.objects.get_or_create(
        name="bench-blueprint", defaults={"backend": ModelVersion.Backend.BLUEPRINT, "is_active": False, "weight": 0}
    )[0]

    sandbox_dir = Path("/tmp") / f"kiln-bench-sbx-{os.getpid()}"  # short: Unix socket paths must fit 108 bytes
    server = serving.ModelServer(base, port=serving.free_port(), log_path=args.out / "vllm.log")
    from generation.blueprint.server import start_in_thread

    blueprint_server, blueprint_url = start_in_thread(port=0, delay_ms=0)
    blueprint.endpoint = blueprint_url
    blueprint.save(update_fields=["endpoint"])
    try:
        url = server.start(300)
        print(f"vLLM serves {base.name} at {url}", flush=True)
        round_started = time.monotonic()
        version = train_round(
            base, method="grpo", out_dir=args.out / f"grpo-{int(time.time())}", steps=args.grpo_steps, lr=args.lr,
            batch_size=args.batch_size, num_generations=args.num_generations, prompts=args.prompts, seed=args.seed,
            prompt_nouns=args.prompt_nouns, temperature=args.temperature,
        )
        trained_s = time.monotonic() - round_started
        serving.load_adapter(url, version.name, Path(version.artifact_dir))
        items = corpus.held_out_items(args.n, seed=args.seed)
        with override_settings(OWN_MODEL_BASE_URL=url, SANDBOX_DIR=sandbox_dir, SMOKE_TEST=True,
                               PREVIEW_POOL_SIZE=0):
            run = evaluation.evaluate([version, base], items, sandbox_sample=args.sandbox_sample)
            evaluated_s = time.monotonic() - round_started - trained_s
            offline = evaluation.evaluate([blueprint], items[: args.blueprint_n],
                                          sandbox_sample=args.blueprint_n) if args.blueprint_n else None
    finally:
        server.stop()
        blueprint_server.shutdown()
        blueprint_server.server_close()
        docker_driver.remove_all_for_instance()

    record = json.loads(Path(version.training["round_json"]).read_text())
    result.update(
        round={"name": version.name, "steps": args.grpo_steps, "train_s": round(trained_s, 1),
               "evaluate_s": round(evaluated_s, 1), "round_s": round(trained_s + evaluated_s, 1),
               "peak_rss_mb_training": record.get("peak_rss_mb"),
               "reward_first_steps": [s.get("reward_mean") for s in record.get("steps", [])[:5]],
               "reward_last_steps": [s.get("reward_mean") for s in record.get("steps", [])[-5:]]},
        evaluation=run.summary,
        offline=offline.summary if offline else None,
        peak_rss_mb_this_process=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        total_s=round(time.monotonic() - started, 1),
        settings={"instance": settings.KILN_INSTANCE},
    )
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Learning round bench ({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"Command: `.venv/bin/python bench/learning_round.py {' '.join(sys.argv[1:])}`", "",
             "## Base (bootstrap.json)", "", "```", json.dumps(result["bootstrap"], indent=2), "```", "",
             f"## Round {version.name} against its base on {args.n} held-out prompts", "",
             evaluation.markdown(run), "",
             (f"GRPO: {args.grpo_steps} steps in {trained_s:.0f} s; evaluation {evaluated_s:.0f} s; round in all "
              f"{(trained_s + evaluated_s) / 60:.1f} min; training peak RSS {record.get('peak_rss_mb')} MB."), ""]
    if offline:
        lines += [f"## The offline blueprint model on {args.blueprint_n} of the same prompts", "",
                  evaluation.markdown(offline), ""]
    (args.out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines), flush=True)
    paired = run.summary.get("paired") or {}
    print(f"paired reward difference (round - base): {paired.get('mean_difference')} "
          f"[{paired.get('low')}, {paired.get('high')}] over {paired.get('n')} prompts", flush=True)


if __name__ == "__main__":
    main()
