/* Reference STREAM triad in C with OpenMP, for comparing aichip.membench against compiled code.
 *
 * usage: triad N_ELEMS REPEATS
 * Prints one line: best_GBps median_GBps n_wrong. Bytes counted as STREAM does: 24 per element
 * (read b and c, write a; write-allocate traffic not counted). n_wrong is the number of elements
 * of a that differ from b + s*c after the timed runs; exits 1 when it is not zero. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s N_ELEMS REPEATS\n", argv[0]); return 2; }
    long n = atol(argv[1]);
    int repeats = atoi(argv[2]);
    if (n <= 0 || repeats <= 0) { fprintf(stderr, "N_ELEMS and REPEATS must be > 0\n"); return 2; }
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) { fprintf(stderr, "out of memory\n"); return 2; }
    const double s = 3.0;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) { a[i] = 1.0; b[i] = 2.0; c[i] = 0.5; }

    double *times = malloc((repeats + 1) * sizeof *times);
    for (int r = 0; r <= repeats; r++) {  /* r == 0 is the warm-up */
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        times[r] = omp_get_wtime() - t0;
    }
    long n_wrong = 0;
    for (long i = 0; i < n; i++)
        n_wrong += a[i] != 2.0 + s * 0.5;
    qsort(times + 1, repeats, sizeof *times, cmp);
    /* median of the timed runs: the middle one, or the mean of the two middle ones */
    double median = 0.5 * (times[1 + (repeats - 1) / 2] + times[1 + repeats / 2]);
    double bytes = 24.0 * n;
    printf("%.3f %.3f %ld\n", bytes / times[1] / 1e9, bytes / median / 1e9, n_wrong);
    free(a); free(b); free(c); free(times);
    return n_wrong != 0;
}
