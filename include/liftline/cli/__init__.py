"""The command line: `liftline` (`main.main`, the console script) and the runner (`run`, the
one library module that imports Airflow). Nothing here is imported by other stages."""

__all__: list[str] = []
