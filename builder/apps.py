from django.apps import AppConfig


class BuilderConfig(AppConfig):
    name = "builder"

    def ready(self):
        from builder.repairs import on_build_finished
        from sandbox.signals import build_finished

        # The sandbox tells the builder a build ended; the builder decides whether to repair it.
        build_finished.connect(on_build_finished, dispatch_uid="builder.repairs")
