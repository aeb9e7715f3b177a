"""manage.py promote VERSION --share 0.1: give a version live traffic, only when its latest evaluation
against its parent shows it better (training.promotion); --force overrides, and is recorded."""

from django.core.management.base import BaseCommand, CommandError

from generation.models import ModelVersion
from training import promotion

UNKNOWN_VERSION = "No model version is named {name!r}."


class Command(BaseCommand):
    help = ("Give a model version a share of live traffic when its latest evaluation against its parent has a "
            "paired reward difference above zero whose 95 % interval excludes zero.")

    def add_arguments(self, parser):
        parser.add_argument("version", help="The model version's name.")
        parser.add_argument("--share", type=float, required=True, help="Share of new turns, above 0 and below 1.")
        parser.add_argument("--force", action="store_true", help="Promote whatever the evaluation says (recorded).")

    def handle(self, *args, version, share, force, **options):
        chosen = ModelVersion.objects.filter(name=version).first()
        if chosen is None:
            raise CommandError(UNKNOWN_VERSION.format(name=version))
        try:
            promoted = promotion.promote(chosen, share, force=force)
        except (promotion.PromotionRefused, ValueError) as error:
            raise CommandError(str(error)) from None
        weights = ", ".join(f"{name} {weight}" for name, weight in promoted.numbers["weights_after"].items())
        forced = " (forced)" if promoted.forced else ""
        self.stdout.write(f"Promoted {chosen.name}{forced}: {promoted.numbers['share_given']:.1%} of new turns. "
                          f"Routing weights now: {weights}.")
