// gemm: OpenBLAS wrappers and the naive reference.
#include "ops/gemm.h"

#include <algorithm>

#include <cblas.h>
#include <omp.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "util/threads.h"

namespace spectral {

// OpenBLAS runs single-threaded (util/threads sets it so); the engine's one OpenMP pool splits
// each product into row blocks of C (or column blocks when C has few rows). Two thread pools
// (OpenBLAS's pthreads and OpenMP) spinning against each other on two cores cost more than the
// split loses.
static void blas(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K,
              alpha, A, lda, B, ldb, beta, C, ldc);
}
static void blas(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K,
              alpha, A, lda, B, ldb, beta, C, ldc);
}

template <typename T>
static void gemm_split(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda, const T* B,
                       int ldb, T beta, T* C, int ldc) {
  if (M == 0 || N == 0) return;
  const int threads = omp_in_parallel() ? 1 : num_threads();
  const double flops = 2.0 * M * N * K;
  if (threads <= 1 || flops < 2e5) {
    blas(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool split_rows = M >= N || M >= 64 * threads;
  const int extent = split_rows ? M : N;
  // blocks aligned to 16 so that every block starts on a cache line
  const int block = ((extent + threads - 1) / threads + 15) / 16 * 16;
  const int n_blocks = (extent + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int b = 0; b < n_blocks; b++) {
    const int lo = b * block, len = std::min(block, extent - lo);
    if (split_rows) {
      const T* Ab = transA ? A + lo : A + (size_t)lo * lda;
      blas(transA, transB, len, N, K, alpha, Ab, lda, B, ldb, beta, C + (size_t)lo * ldc, ldc);
    } else {
      const T* Bb = transB ? B + (size_t)lo * ldb : B + lo;
      blas(transA, transB, M, len, K, alpha, A, lda, Bb, ldb, beta, C + lo, ldc);
    }
  }
}

static std::vector<GemmShape>* g_shape_sink = nullptr;

void record_gemm_shapes(std::vector<GemmShape>* sink) { g_shape_sink = sink; }

void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  if (g_shape_sink) {
    const bool nested = omp_in_parallel();
#pragma omp critical(spectral_gemm_shapes)
    g_shape_sink->push_back({transA, transB, M, N, K, beta, nested});
  }
  gemm_split(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc) {
  gemm_split(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Eight rows at a time: eight accumulators of 8 lanes over C, then one transpose-and-add reduces them
// to eight sums. One step's products (≈ 3 MB of weights) are bound by the bandwidth of L2/L3, and
// this reads each weight once at about that bandwidth.
void gemv(float* out, const float* W, const float* x, const float* bias, int OC, int C) {
  gemv(out, W, C, x, bias, OC, C);
}
void gemv(double* out, const double* W, const double* x, const double* bias, int OC, int C) {
  gemv(out, W, C, x, bias, OC, C);
}

void gemv(float* out, const float* W, int ldw, const float* x, const float* bias, int OC, int C) {
  int o = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; o + 8 <= OC; o += 8) {
    const float* w = W + (size_t)o * ldw;
    __m256 acc[8];
    for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_ps();
    int c = 0;
    for (; c + 8 <= C; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      for (int r = 0; r < 8; r++) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (size_t)r * ldw + c), xv, acc[r]);
    }
    const __m256 s01 = _mm256_hadd_ps(acc[0], acc[1]), s23 = _mm256_hadd_ps(acc[2], acc[3]);
    const __m256 s45 = _mm256_hadd_ps(acc[4], acc[5]), s67 = _mm256_hadd_ps(acc[6], acc[7]);
    const __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
    if (c < C) {
      alignas(32) float tail[8] = {};
      for (int r = 0; r < 8; r++)
        for (int k = c; k < C; k++) tail[r] += w[(size_t)r * ldw + k] * x[k];
      sum = _mm256_add_ps(sum, _mm256_load_ps(tail));
    }
    if (bias) sum = _mm256_add_ps(sum, _mm256_loadu_ps(bias + o));
    _mm256_storeu_ps(out + o, sum);
  }
#endif
  for (; o < OC; o++) {
    const float* w = W + (size_t)o * ldw;
    float acc = 0;
    for (int c = 0; c < C; c++) acc += w[c] * x[c];
    out[o] = (bias ? bias[o] : 0.0f) + acc;
  }
}

void gemv_t_acc(float* out, const float* A, int lda, const float* w, int R, int C) {
  int c = 0;
#if defined(__AVX2__) && defined(__FMA__)
  // 32 columns at a time: two sets of four accumulators (even and odd rows), eight chains of FMAs
  for (; c + 32 <= C; c += 32) {
    __m256 a0 = _mm256_loadu_ps(out + c), a1 = _mm256_loadu_ps(out + c + 8);
    __m256 a2 = _mm256_loadu_ps(out + c + 16), a3 = _mm256_loadu_ps(out + c + 24);
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    int r = 0;
    for (; r + 2 <= R; r += 2) {
      const float* x = A + (size_t)r * lda + c;
      const float* y = x + lda;
      const __m256 u = _mm256_broadcast_ss(w + r), v = _mm256_broadcast_ss(w + r + 1);
      a0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x), a0);
      a1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x + 8), a1);
      a2 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x + 16), a2);
      a3 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x + 24), a3);
      b0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y), b0);
      b1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y + 8), b1);
      b2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y + 16), b2);
      b3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(y + 24), b3);
    }
    if (r < R) {
      const float* x = A + (size_t)r * lda + c;
      const __m256 u = _mm256_broadcast_ss(w + r);
      a0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x), a0);
      a1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x + 8), a1);
      a2 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x + 16), a2);
      a3 = _mm256_fmadd_ps(u, _mm256_loadu_ps(x + 24), a3);
    }
    _mm256_storeu_ps(out + c, _mm256_add_ps(a0, b0));
    _mm256_storeu_ps(out + c + 8, _mm256_add_ps(a1, b1));
    _mm256_storeu_ps(out + c + 16, _mm256_add_ps(a2, b2));
    _mm256_storeu_ps(out + c + 24, _mm256_add_ps(a3, b3));
  }
  for (; c + 8 <= C; c += 8) {
    __m256 a = _mm256_loadu_ps(out + c);
    for (int r = 0; r < R; r++) a = _mm256_fmadd_ps(_mm256_broadcast_ss(w + r), _mm256_loadu_ps(A + (size_t)r * lda + c), a);
    _mm256_storeu_ps(out + c, a);
  }
#endif
  for (; c < C; c++) {
    float a = out[c];
    for (int r = 0; r < R; r++) a += w[r] * A[(size_t)r * lda + c];
    out[c] = a;
  }
}

void gemv_t_acc(double* out, const double* A, int lda, const double* w, int R, int C) {
  for (int r = 0; r < R; r++) {
    const double* x = A + (size_t)r * lda;
    for (int c = 0; c < C; c++) out[c] += w[r] * x[c];
  }
}

void gemv(double* out, const double* W, int ldw, const double* x, const double* bias, int OC, int C) {
  for (int o = 0; o < OC; o++) {
    const double* w = W + (size_t)o * ldw;
    double acc = 0;
    for (int c = 0; c < C; c++) acc += w[c] * x[c];
    out[o] = (bias ? bias[o] : 0.0) + acc;
  }
}

template <typename T>
void gemm_naive(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda,
                const T* B, int ldb, T beta, T* C, int ldc) {
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      double acc = 0;
      for (int k = 0; k < K; k++) {
        double a = transA ? A[k * lda + i] : A[i * lda + k];
        double b = transB ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      C[i * ldc + j] = static_cast<T>(alpha * acc + (beta == T(0) ? 0.0 : double(beta) * C[i * ldc + j]));
    }
  }
}

template void gemm_naive<float>(bool, bool, int, int, int, float, const float*, int, const float*, int,
                                float, float*, int);
template void gemm_naive<double>(bool, bool, int, int, int, double, const double*, int, const double*,
                                 int, double, double*, int);

}  // namespace spectral
