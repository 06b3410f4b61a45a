// gemm: row-major matrix products through OpenBLAS, for float (training) and double (gradient checks),
// plus a naive triple-loop reference used by tests.
#pragma once

#include <vector>

namespace spectral {

// C (M,N) = alpha * op(A) · op(B) + beta * C, all row-major.
// op(A) is (M,K): A is (M,K) with lda >= K, or (K,M) with lda >= M when transA.
// op(B) is (K,N): B is (K,N) with ldb >= N, or (N,K) with ldb >= K when transB.
void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);
void gemm(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc);

// The shape of one float product, as gemm() was called: bench train records one step's products and
// replays them alone, to tell the products' own speed at the model's shapes from everything else.
struct GemmShape {
  bool transA, transB;
  int M, N, K;
  float beta;
  bool in_parallel;  // called from inside an OpenMP region (e.g. attention's per-tile products)
};
// While a sink is installed every float gemm() call appends its shape to it (calls from inside a
// parallel region are serialized). Install and remove it outside parallel regions; nullptr removes.
void record_gemm_shapes(std::vector<GemmShape>* sink);

// One row through a weight matrix: out (OC) = W (OC,C) · x (C) (+ bias (OC) when not null). The
// incremental step's products: a kernel that reads each weight once, eight rows at a time with
// independent accumulators, where sgemm's small-matrix path runs several times slower at M = 1.
void gemv(float* out, const float* W, const float* x, const float* bias, int OC, int C);
void gemv(double* out, const double* W, const double* x, const double* bias, int OC, int C);
// The same with W's rows ldw >= C apart (e.g. one head's keys inside a key/value cache).
void gemv(float* out, const float* W, int ldw, const float* x, const float* bias, int OC, int C);
void gemv(double* out, const double* W, int ldw, const double* x, const double* bias, int OC, int C);
// The weighted sum of rows, accumulated: out (C) += Σ_r w[r] · A[r] for the R rows of A (lda apart),
// i.e. out += Aᵀ·w (e.g. attention's values weighted by the probabilities). The accumulators stay
// in registers over the rows: a loop that updates out in memory row after row is bound by its
// stores and their reloads.
void gemv_t_acc(float* out, const float* A, int lda, const float* w, int R, int C);
void gemv_t_acc(double* out, const double* A, int lda, const double* w, int R, int C);

// Same contract, plain loops: the reference the BLAS path is tested against.
template <typename T>
void gemm_naive(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda,
                const T* B, int ldb, T beta, T* C, int ldc);

}  // namespace spectral
