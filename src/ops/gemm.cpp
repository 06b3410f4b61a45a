// gemm: OpenBLAS wrappers and the naive reference.
#include "ops/gemm.h"

#include <algorithm>

#include <cblas.h>
#include <omp.h>

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

void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  gemm_split(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc) {
  gemm_split(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
