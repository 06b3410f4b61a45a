// gemm: row-major matrix products through OpenBLAS, for float (training) and double (gradient checks),
// plus a naive triple-loop reference used by tests.
#pragma once

namespace spectral {

// C (M,N) = alpha * op(A) · op(B) + beta * C, all row-major.
// op(A) is (M,K): A is (M,K) with lda >= K, or (K,M) with lda >= M when transA.
// op(B) is (K,N): B is (K,N) with ldb >= N, or (N,K) with ldb >= K when transB.
void gemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);
void gemm(bool transA, bool transB, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc);

// Same contract, plain loops: the reference the BLAS path is tested against.
template <typename T>
void gemm_naive(bool transA, bool transB, int M, int N, int K, T alpha, const T* A, int lda,
                const T* B, int ldb, T beta, T* C, int ldc);

}  // namespace spectral
