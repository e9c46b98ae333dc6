from . import fi_bench_row
