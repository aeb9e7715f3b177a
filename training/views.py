"""The evaluations page of the review console (/review/evaluations/): staff only; anyone else gets 404,
as for the rest of the console."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from feedback.views import staff_only
from training import evaluation
from training.models import EvaluationRun, Promotion

PAGE_SIZE = 20


def _table(run: EvaluationRun) -> dict:
    summary = run.summary or {}
    if not summary.get("order"):  # still running, or stopped before its summary
        return {"run": run, "head": [], "rows": [], "paired": None}
    paired = summary.get("paired")
    return {"run": run, "head": summary["order"], "rows": evaluation.metric_rows(summary), "paired": paired,
            "paired_text": evaluation.paired_text(summary)}


@staff_only
@require_GET
def runs(request):
    page = Paginator(EvaluationRun.objects.select_related("version_a", "version_b"), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "training/evaluations.html", {
        "page": page, "tables": [_table(run) for run in page.object_list],
        "promotions": Promotion.objects.select_related("version", "by")[:10],
    })


@staff_only
@require_GET
def run_detail(request, run_id: int):
    run = get_object_or_404(EvaluationRun.objects.select_related("version_a", "version_b"), id=run_id)
    results = run.results.select_related("version", "generation", "build")
    return render(request, "training/evaluation.html", {"table": _table(run), "results": results})
