from django.core.management.base import BaseCommand

from builder.review_demo import seed


class Command(BaseCommand):
    help = "Fill the database with a review-console demo: side-by-side picks, a tie, automatic negatives."

    def add_arguments(self, parser):
        parser.add_argument("--turns", type=int, default=6)
        parser.add_argument("--extra-votes", type=int, default=0, help="Picks drawn from known strengths.")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        made = seed(turns=options["turns"], extra_votes=options["extra_votes"], seed=options["seed"])
        self.stdout.write(", ".join(f"{value} {key}" for key, value in made.items()))
