#include <oneapi/dnnl/dnnl.h>

// Debian's libdnnl runs on OpenMP (libgomp); oneDNN has no thread-count call of its own for that runtime.
void omp_set_num_threads(int threads);
