;; Single-precision matrix multiply for the CPU backend: C[M,N] (+)= op(A)·op(B).
;;
;; Layout (BLIS's, cut down to what small models need):
;;   for jc in N by NC:                    columns of C whose packed B stays in L2
;;     for pc in K by KC:                  a slice of the reduction whose B panels fit in L1
;;       pack op(B)[pc:+kc, jc:+nc]  -> panels of 16 columns, each kc rows of 16 floats
;;       for ic in M by MC:
;;         pack op(A)[ic:+mc, pc:+kc] -> micro-panels of 2 rows, each kc pairs of floats
;;         for jr in nc by 16:             one B panel (kc·64 bytes) stays in L1 ...
;;           for ir in mc by 2:            ... while A micro-panels stream past it
;;             kernel_2x16: C[ir:+2, jr:+16] in 8 v128 accumulators
;;                             (kernel_2x4 per 4 columns of a last panel of ≤ 12 columns)
;;
;; pack_b + gemm_packed_b split the B packing out, for a B used in many products: packing costs
;; ~15% of the LSTM's per-step product (32×256×1024), whose recurrent weight is the same at every
;; step.
;;
;; Packing turns every transposition form into the same contiguous reads: the kernel never sees
;; lda or ldb, so Aᵀ·B (weight gradients) runs as fast as A·B. Packing costs O(M·K + K·N),
;; small next to the O(M·N·K) product.
;;
;; The 2×16 register tile: per k, 4 vector loads of B and 2 broadcasts of A feed 8 multiply-adds;
;; 8 accumulators + 4 B vectors + 2 A vectors = 14 of the 15 XMM registers V8 allocates, so
;; nothing spills. Larger tiles (3×16, 4×12, 6×8) spill and measured slower. The k loop is not
;; unrolled: V8's scheduler hoists the second iteration's loads over the first's multiply-adds
;; and spills accumulators (measured 30% slower).
;;
;; Every C element is one chain of multiply-adds over k = 0..K-1 in order, started from C (when
;; accumulating) or from 0: the K blocking stores the chain to C and picks it up again, and
;; partial tiles run through a 2×16 scratch tile with the same operations. So the result does
;; not depend on the blocking, on the tile an element lands in, or on how a caller splits rows
;; or columns of C between threads.
;;
;; MADD(a, b, c) = a·b + c is a macro: scripts/build-wasm.mjs writes f32x4.relaxed_madd (one
;; fused instruction where the CPU has FMA) for the relaxed build and f32x4.mul + f32x4.add for
;; the plain build, which runs wherever WebAssembly SIMD does.
(module
  ;; Imported and shared, so that worker threads can run on the same memory as the caller.
  (import "env" "memory" (memory 1 65536 shared))

  ;; KC·16·4 = 16 KiB of B panel in L1; MC·KC·4 = 256 KiB of packed A and KC·NC·4 = 1 MiB of
  ;; packed B in L2. The blocking never changes results (see above), only speed.
  (global $KC i32 (i32.const 256))
  (global $MC i32 (i32.const 256))
  (global $NC i32 (i32.const 1024))

  ;; C[2,16] at pc (row stride ldc bytes) = (load ? C : 0) + Σk a[k]·b[k], with the A micro-panel
  ;; at pa (kc pairs) and the B panel at pb (kc rows of 16). kc ≥ 1.
  (func $kernel_2x16 (param $kc i32) (param $pa i32) (param $pb i32) (param $pc i32)
      (param $ldc i32) (param $load i32)
    (local $c00 v128) (local $c01 v128) (local $c02 v128) (local $c03 v128)
    (local $c10 v128) (local $c11 v128) (local $c12 v128) (local $c13 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $a0 v128) (local $a1 v128)
    (local $pc1 i32)
    (local.set $pc1 (i32.add (local.get $pc) (local.get $ldc)))
    ;; v128 locals start at zero, which is the chain's start when not accumulating.
    (if (local.get $load)
      (then
        (local.set $c00 (v128.load offset=0 (local.get $pc)))
        (local.set $c01 (v128.load offset=16 (local.get $pc)))
        (local.set $c02 (v128.load offset=32 (local.get $pc)))
        (local.set $c03 (v128.load offset=48 (local.get $pc)))
        (local.set $c10 (v128.load offset=0 (local.get $pc1)))
        (local.set $c11 (v128.load offset=16 (local.get $pc1)))
        (local.set $c12 (v128.load offset=32 (local.get $pc1)))
        (local.set $c13 (v128.load offset=48 (local.get $pc1)))))
    (loop $k
      (local.set $b0 (v128.load offset=0 (local.get $pb)))
      (local.set $b1 (v128.load offset=16 (local.get $pb)))
      (local.set $b2 (v128.load offset=32 (local.get $pb)))
      (local.set $b3 (v128.load offset=48 (local.get $pb)))
      (local.set $a0 (v128.load32_splat offset=0 (local.get $pa)))
      (local.set $a1 (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c00 (MADD (local.get $a0) (local.get $b0) (local.get $c00)))
      (local.set $c01 (MADD (local.get $a0) (local.get $b1) (local.get $c01)))
      (local.set $c02 (MADD (local.get $a0) (local.get $b2) (local.get $c02)))
      (local.set $c03 (MADD (local.get $a0) (local.get $b3) (local.get $c03)))
      (local.set $c10 (MADD (local.get $a1) (local.get $b0) (local.get $c10)))
      (local.set $c11 (MADD (local.get $a1) (local.get $b1) (local.get $c11)))
      (local.set $c12 (MADD (local.get $a1) (local.get $b2) (local.get $c12)))
      (local.set $c13 (MADD (local.get $a1) (local.get $b3) (local.get $c13)))
      (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store offset=0 (local.get $pc) (local.get $c00))
    (v128.store offset=16 (local.get $pc) (local.get $c01))
    (v128.store offset=32 (local.get $pc) (local.get $c02))
    (v128.store offset=48 (local.get $pc) (local.get $c03))
    (v128.store offset=0 (local.get $pc1) (local.get $c10))
    (v128.store offset=16 (local.get $pc1) (local.get $c11))
    (v128.store offset=32 (local.get $pc1) (local.get $c12))
    (v128.store offset=48 (local.get $pc1) (local.get $c13)))

  ;; C[2,4] at pc (row stride ldc bytes) = (load ? C : 0) + Σk a[k]·b[k], with b[k] the 4 floats at
  ;; pb + 64·k: one quarter of a B panel. For the last, narrow panel (N = 65 leaves 1 column),
  ;; where kernel_2x16 would spend 16 columns' work on it. Each lane runs the same chain of
  ;; multiply-adds as in kernel_2x16, so which kernel computes an element never shows in C.
  (func $kernel_2x4 (param $kc i32) (param $pa i32) (param $pb i32) (param $pc i32)
      (param $ldc i32) (param $load i32)
    (local $c0 v128) (local $c1 v128) (local $b v128) (local $a0 v128) (local $a1 v128)
    (if (local.get $load)
      (then
        (local.set $c0 (v128.load (local.get $pc)))
        (local.set $c1 (v128.load (i32.add (local.get $pc) (local.get $ldc))))))
    (loop $k
      (local.set $b (v128.load (local.get $pb)))
      (local.set $a0 (v128.load32_splat offset=0 (local.get $pa)))
      (local.set $a1 (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c0 (MADD (local.get $a0) (local.get $b) (local.get $c0)))
      (local.set $c1 (MADD (local.get $a1) (local.get $b) (local.get $c1)))
      (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 64)))
      (br_if $k (local.tee $kc (i32.sub (local.get $kc) (i32.const 1)))))
    (v128.store (local.get $pc) (local.get $c0))
    (v128.store (i32.add (local.get $pc) (local.get $ldc)) (local.get $c1)))

  ;; dst[k·W + x] = x < nx ? M(k, x) : 0 for k < kc, x < W, where M(k, x) is the float at
  ;; src + k·sk + x·sx (strides in bytes). The general, slow path: edge panels and k tails.
  (func $pack_scalar (param $src i32) (param $sk i32) (param $sx i32) (param $kc i32)
      (param $nx i32) (param $W i32) (param $dst i32)
    (local $k i32) (local $x i32) (local $s i32)
    (block $done_k (loop $next_k
      (br_if $done_k (i32.ge_u (local.get $k) (local.get $kc)))
      (local.set $s (i32.add (local.get $src) (i32.mul (local.get $k) (local.get $sk))))
      (local.set $x (i32.const 0))
      (block $done_x (loop $next_x
        (br_if $done_x (i32.ge_u (local.get $x) (local.get $W)))
        (f32.store (local.get $dst)
          (if (result f32) (i32.lt_u (local.get $x) (local.get $nx))
            (then (f32.load (i32.add (local.get $s) (i32.mul (local.get $x) (local.get $sx)))))
            (else (f32.const 0))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 1)))
        (br $next_x)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next_k))))

  ;; Packs op(B)[k0:+kc, j0:+nc] into ⌈nc/16⌉ panels of kc rows of 16 floats, zero-padded past
  ;; nc. op(B)[k, j] is B[k·ldb + j], or B[j·ldb + k] when transB.
  (func $pack_b (param $transB i32) (param $b i32) (param $ldb i32) (param $k0 i32) (param $kc i32)
      (param $j0 i32) (param $nc i32) (param $dst i32)
    (local $jp i32) (local $nr i32) (local $k i32) (local $g i32)
    (local $src i32) (local $d i32) (local $ldbBytes i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $ldbBytes (i32.shl (local.get $ldb) (i32.const 2)))
    (block $done (loop $panel
      (br_if $done (i32.ge_u (local.get $jp) (local.get $nc)))
      (local.set $nr (i32.sub (local.get $nc) (local.get $jp)))
      (if (i32.lt_u (local.get $nr) (i32.const 16))
        (then
          ;; the last, partial panel
          (if (local.get $transB)
            (then (call $pack_scalar
              (i32.add (local.get $b) (i32.shl (i32.add
                (i32.mul (i32.add (local.get $j0) (local.get $jp)) (local.get $ldb)) (local.get $k0))
                (i32.const 2)))
              (i32.const 4) (local.get $ldbBytes) (local.get $kc) (local.get $nr) (i32.const 16)
              (local.get $dst)))
            (else (call $pack_scalar
              (i32.add (local.get $b) (i32.shl (i32.add
                (i32.mul (local.get $k0) (local.get $ldb)) (i32.add (local.get $j0) (local.get $jp)))
                (i32.const 2)))
              (local.get $ldbBytes) (i32.const 4) (local.get $kc) (local.get $nr) (i32.const 16)
              (local.get $dst)))))
        (else
          (if (local.get $transB)
            (then
              ;; op(B) rows are B columns: transpose 4×4 blocks, 4 k at a time, into the panel.
              (local.set $k (i32.const 0))
              (block $done_k (loop $next_k
                (br_if $done_k (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                (local.set $g (i32.const 0))
                (loop $group
                  ;; B[j0+jp+g .. +3, k0+k .. +3]
                  (local.set $src (i32.add (local.get $b) (i32.shl (i32.add
                    (i32.mul (i32.add (i32.add (local.get $j0) (local.get $jp)) (local.get $g))
                      (local.get $ldb))
                    (i32.add (local.get $k0) (local.get $k))) (i32.const 2))))
                  (local.set $r0 (v128.load (local.get $src)))
                  (local.set $src (i32.add (local.get $src) (local.get $ldbBytes)))
                  (local.set $r1 (v128.load (local.get $src)))
                  (local.set $src (i32.add (local.get $src) (local.get $ldbBytes)))
                  (local.set $r2 (v128.load (local.get $src)))
                  (local.set $src (i32.add (local.get $src) (local.get $ldbBytes)))
                  (local.set $r3 (v128.load (local.get $src)))
                  (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                    (local.get $r0) (local.get $r1)))
                  (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
                    (local.get $r2) (local.get $r3)))
                  (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
                    (local.get $r0) (local.get $r1)))
                  (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31
                    (local.get $r2) (local.get $r3)))
                  ;; panel rows k .. k+3, columns g .. g+3
                  (local.set $d (i32.add (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 6)))
                    (i32.shl (local.get $g) (i32.const 2))))
                  (v128.store offset=0 (local.get $d) (i8x16.shuffle
                    0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
                  (v128.store offset=64 (local.get $d) (i8x16.shuffle
                    8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
                  (v128.store offset=128 (local.get $d) (i8x16.shuffle
                    0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
                  (v128.store offset=192 (local.get $d) (i8x16.shuffle
                    8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
                  (br_if $group (i32.lt_u
                    (local.tee $g (i32.add (local.get $g) (i32.const 4))) (i32.const 16))))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $next_k)))
              (if (i32.lt_u (local.get $k) (local.get $kc))
                (then (call $pack_scalar
                  (i32.add (local.get $b) (i32.shl (i32.add
                    (i32.mul (i32.add (local.get $j0) (local.get $jp)) (local.get $ldb))
                    (i32.add (local.get $k0) (local.get $k))) (i32.const 2)))
                  (i32.const 4) (local.get $ldbBytes) (i32.sub (local.get $kc) (local.get $k))
                  (i32.const 16) (i32.const 16)
                  (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 6)))))))
            (else
              ;; op(B) rows are B rows: each panel row is 64 contiguous bytes.
              (local.set $src (i32.add (local.get $b) (i32.shl (i32.add
                (i32.mul (local.get $k0) (local.get $ldb)) (i32.add (local.get $j0) (local.get $jp)))
                (i32.const 2))))
              (local.set $d (local.get $dst))
              (local.set $k (local.get $kc))
              (loop $row
                (v128.store offset=0 (local.get $d) (v128.load offset=0 (local.get $src)))
                (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $src)))
                (v128.store offset=32 (local.get $d) (v128.load offset=32 (local.get $src)))
                (v128.store offset=48 (local.get $d) (v128.load offset=48 (local.get $src)))
                (local.set $src (i32.add (local.get $src) (local.get $ldbBytes)))
                (local.set $d (i32.add (local.get $d) (i32.const 64)))
                (br_if $row (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 6))))
      (local.set $jp (i32.add (local.get $jp) (i32.const 16)))
      (br $panel))))

  ;; Packs op(A)[i0:+mc, k0:+kc] into ⌈mc/2⌉ micro-panels of kc pairs, zero-padded past mc.
  ;; op(A)[i, k] is A[i·lda + k], or A[k·lda + i] when transA.
  (func $pack_a (param $transA i32) (param $a i32) (param $lda i32) (param $i0 i32) (param $mc i32)
      (param $k0 i32) (param $kc i32) (param $dst i32)
    (local $ip i32) (local $k i32) (local $src i32) (local $src1 i32) (local $d i32)
    (local $ldaBytes i32) (local $v0 v128) (local $v1 v128)
    (local.set $ldaBytes (i32.shl (local.get $lda) (i32.const 2)))
    (block $done (loop $panel
      (br_if $done (i32.ge_u (local.get $ip) (local.get $mc)))
      (if (i32.lt_u (i32.sub (local.get $mc) (local.get $ip)) (i32.const 2))
        (then
          ;; one row left: the second lane of the micro-panel is zeros
          (if (local.get $transA)
            (then (call $pack_scalar
              (i32.add (local.get $a) (i32.shl (i32.add
                (i32.mul (local.get $k0) (local.get $lda)) (i32.add (local.get $i0) (local.get $ip)))
                (i32.const 2)))
              (local.get $ldaBytes) (i32.const 4) (local.get $kc) (i32.const 1) (i32.const 2)
              (local.get $dst)))
            (else (call $pack_scalar
              (i32.add (local.get $a) (i32.shl (i32.add
                (i32.mul (i32.add (local.get $i0) (local.get $ip)) (local.get $lda)) (local.get $k0))
                (i32.const 2)))
              (i32.const 4) (local.get $ldaBytes) (local.get $kc) (i32.const 1) (i32.const 2)
              (local.get $dst)))))
        (else
          (if (local.get $transA)
            (then
              ;; op(A) columns are A rows: each pair is 8 contiguous bytes.
              (local.set $src (i32.add (local.get $a) (i32.shl (i32.add
                (i32.mul (local.get $k0) (local.get $lda)) (i32.add (local.get $i0) (local.get $ip)))
                (i32.const 2))))
              (local.set $d (local.get $dst))
              (local.set $k (local.get $kc))
              (loop $pair
                (i64.store (local.get $d) (i64.load (local.get $src)))
                (local.set $src (i32.add (local.get $src) (local.get $ldaBytes)))
                (local.set $d (i32.add (local.get $d) (i32.const 8)))
                (br_if $pair (local.tee $k (i32.sub (local.get $k) (i32.const 1))))))
            (else
              ;; op(A) rows are A rows: interleave two rows, 4 k at a time.
              (local.set $src (i32.add (local.get $a) (i32.shl (i32.add
                (i32.mul (i32.add (local.get $i0) (local.get $ip)) (local.get $lda)) (local.get $k0))
                (i32.const 2))))
              (local.set $src1 (i32.add (local.get $src) (local.get $ldaBytes)))
              (local.set $d (local.get $dst))
              (local.set $k (i32.const 0))
              (block $done_k (loop $next_k
                (br_if $done_k (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $kc)))
                (local.set $v0 (v128.load (local.get $src)))
                (local.set $v1 (v128.load (local.get $src1)))
                (v128.store offset=0 (local.get $d) (i8x16.shuffle
                  0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                (v128.store offset=16 (local.get $d) (i8x16.shuffle
                  8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                (local.set $src (i32.add (local.get $src) (i32.const 16)))
                (local.set $src1 (i32.add (local.get $src1) (i32.const 16)))
                (local.set $d (i32.add (local.get $d) (i32.const 32)))
                (local.set $k (i32.add (local.get $k) (i32.const 4)))
                (br $next_k)))
              (if (i32.lt_u (local.get $k) (local.get $kc))
                (then (call $pack_scalar (local.get $src) (i32.const 4) (local.get $ldaBytes)
                  (i32.sub (local.get $kc) (local.get $k)) (i32.const 2) (i32.const 2)
                  (local.get $d))))))))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 3))))
      (local.set $ip (i32.add (local.get $ip) (i32.const 2)))
      (br $panel))))

  ;; Copies rows×cols floats between two matrices with row strides in bytes.
  (func $copy_tile (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32)
      (param $rows i32) (param $cols i32)
    (local $r i32) (local $j i32)
    (block $done_r (loop $next_r
      (br_if $done_r (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $j (i32.const 0))
      (block $done_j (loop $next_j
        (br_if $done_j (i32.ge_u (local.get $j) (local.get $cols)))
        (f32.store (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
          (f32.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next_j)))
      (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
      (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $next_r))))

  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))

  (func $round_up (param $x i32) (param $to i32) (result i32)
    (i32.mul (i32.div_u (i32.add (local.get $x) (i32.sub (local.get $to) (i32.const 1)))
      (local.get $to)) (local.get $to)))

  ;; Bytes of scratch gemm needs for these sizes: one packed B block, one packed A block, the
  ;; 2×16 edge tile, and up to 63 bytes to align them to a cache line.
  (func $scratch_bytes (export "scratch_bytes") (param $M i32) (param $N i32) (param $K i32)
      (result i32)
    (local $kc i32)
    (local.set $kc (call $min (local.get $K) (global.get $KC)))
    (i32.add (i32.const 192) (i32.shl (i32.add
      (i32.mul (local.get $kc) (call $round_up (call $min (local.get $N) (global.get $NC)) (i32.const 16)))
      (i32.mul (local.get $kc) (call $round_up (call $min (local.get $M) (global.get $MC)) (i32.const 2))))
      (i32.const 2))))

  ;; C[M,N] (+)= op(A)·op(B), op(A) M×K, op(B) K×N. Pointers are byte addresses in memory,
  ;; strides (lda, ldb, ldc) are in floats: op(A)[i,k] = A[i·lda + k], or A[k·lda + i] when transA;
  ;; op(B)[k,j] = B[k·ldb + j], or B[j·ldb + k] when transB; C[i,j] = C[i·ldc + j].
  ;; accumulate ≠ 0 adds to C, else overwrites it. scratch points at scratch_bytes(M, N, K) bytes
  ;; that overlap no operand.
  (func (export "gemm")
      (param $transA i32) (param $transB i32) (param $M i32) (param $N i32) (param $K i32)
      (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
      (param $accumulate i32) (param $scratch i32)
    (call $gemm (local.get $transA) (local.get $transB) (local.get $M) (local.get $N) (local.get $K)
      (local.get $a) (local.get $lda) (local.get $b) (local.get $ldb) (local.get $c) (local.get $ldc)
      (local.get $accumulate) (local.get $scratch) (i32.const 0) (i32.const 0)))

  ;; Bytes of a whole op(B) (K×N) packed by pack_b: one block of ⌈N/16⌉ panels per KC rows.
  (func $packed_b_bytes (export "packed_b_bytes") (param $K i32) (param $N i32) (result i32)
    (i32.shl (i32.mul (local.get $K) (call $round_up (local.get $N) (i32.const 16))) (i32.const 2)))

  ;; Packs the whole op(B) (K×N) at dst, in the layout gemm packs one block at a time: for each
  ;; KC block of rows, ⌈N/16⌉ panels. A matrix used for many products (the LSTM's recurrent
  ;; weights, once per time step) is then packed once, and threads can share it.
  (func (export "pack_b") (param $transB i32) (param $K i32) (param $N i32) (param $b i32)
      (param $ldb i32) (param $dst i32)
    (local $pc i32) (local $blockBytes i32)
    ;; bytes per full KC block
    (local.set $blockBytes (call $packed_b_bytes (global.get $KC) (local.get $N)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $pc) (local.get $K)))
      (call $pack_b (local.get $transB) (local.get $b) (local.get $ldb) (local.get $pc)
        (call $min (i32.sub (local.get $K) (local.get $pc)) (global.get $KC)) (i32.const 0) (local.get $N)
        (local.get $dst))
      (local.set $dst (i32.add (local.get $dst) (local.get $blockBytes)))
      (local.set $pc (i32.add (local.get $pc) (global.get $KC)))
      (br $next))))

  ;; gemm with op(B) = columns j0 .. j0+N of a matrix of packedN columns that pack_b packed at
  ;; packed; j0 is a multiple of 16 (a panel boundary). Bit-identical to gemm on the unpacked B.
  (func (export "gemm_packed_b")
      (param $transA i32) (param $M i32) (param $N i32) (param $K i32) (param $a i32) (param $lda i32)
      (param $packed i32) (param $packedN i32) (param $j0 i32) (param $c i32) (param $ldc i32)
      (param $accumulate i32) (param $scratch i32)
    (call $gemm (local.get $transA) (i32.const 0) (local.get $M) (local.get $N) (local.get $K)
      (local.get $a) (local.get $lda) (local.get $packed) (i32.const 0) (local.get $c) (local.get $ldc)
      (local.get $accumulate) (local.get $scratch) (local.get $packedN) (local.get $j0)))

  ;; The two above: packs op(B) block by block into scratch when packedN is 0, else reads the
  ;; panels of columns j0.. from the pack_b layout at b.
  (func $gemm
      (param $transA i32) (param $transB i32) (param $M i32) (param $N i32) (param $K i32)
      (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
      (param $accumulate i32) (param $scratch i32) (param $packedN i32) (param $j0 i32)
    (local $bBlock i32) (local $panel0 i32) (local $packB i32) (local $packA i32) (local $tile i32) (local $ldcBytes i32)
    (local $jc i32) (local $nc i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $jr i32) (local $nr i32) (local $ir i32) (local $mr i32) (local $load i32)
    (local $pa i32) (local $pb i32) (local $cTile i32) (local $i i32) (local $v i32)
    (if (i32.or (i32.eqz (local.get $M)) (i32.eqz (local.get $N))) (then (return)))
    (local.set $ldcBytes (i32.shl (local.get $ldc) (i32.const 2)))
    (if (i32.eqz (local.get $K))
      (then
        ;; an empty sum: C = 0, or C unchanged when accumulating
        (if (i32.eqz (local.get $accumulate))
          (then
            (loop $row
              (memory.fill (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldcBytes)))
                (i32.const 0) (i32.shl (local.get $N) (i32.const 2)))
              (br_if $row (i32.lt_u
                (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $M))))))
        (return)))
    ;; 64-byte alignment puts each 16-float B panel row in exactly one cache line.
    (local.set $tile (i32.and (i32.add (local.get $scratch) (i32.const 63)) (i32.const -64)))
    (local.set $packB (i32.add (local.get $tile) (i32.const 128)))
    (local.set $packA (local.get $packB))
    (if (i32.eqz (local.get $packedN))
      (then (local.set $packA (i32.add (local.get $packB) (i32.shl (i32.mul
        (call $min (local.get $K) (global.get $KC))
        (call $round_up (call $min (local.get $N) (global.get $NC)) (i32.const 16))) (i32.const 2))))))
    (block $done_jc (loop $next_jc
      (br_if $done_jc (i32.ge_u (local.get $jc) (local.get $N)))
      (local.set $nc (call $min (i32.sub (local.get $N) (local.get $jc)) (global.get $NC)))
      (local.set $pc (i32.const 0))
      (block $done_pc (loop $next_pc
        (br_if $done_pc (i32.ge_u (local.get $pc) (local.get $K)))
        (local.set $kc (call $min (i32.sub (local.get $K) (local.get $pc)) (global.get $KC)))
        ;; after the first K block, the chain continues from what the previous block stored
        (local.set $load (i32.or (i32.ne (local.get $accumulate) (i32.const 0))
          (i32.ne (local.get $pc) (i32.const 0))))
        ;; the panels of op(B)[pc:+kc, jc:+nc] start at bBlock, the first being panel panel0
        (if (i32.eqz (local.get $packedN))
          (then
            (call $pack_b (local.get $transB) (local.get $b) (local.get $ldb) (local.get $pc) (local.get $kc)
              (local.get $jc) (local.get $nc) (local.get $packB))
            (local.set $bBlock (local.get $packB))
            (local.set $panel0 (i32.const 0)))
          (else
            (local.set $bBlock (i32.add (local.get $b)
              (i32.mul (local.get $pc) (call $packed_b_bytes (i32.const 1) (local.get $packedN)))))
            (local.set $panel0 (i32.add (local.get $j0) (local.get $jc)))))
        (local.set $ic (i32.const 0))
        (block $done_ic (loop $next_ic
          (br_if $done_ic (i32.ge_u (local.get $ic) (local.get $M)))
          (local.set $mc (call $min (i32.sub (local.get $M) (local.get $ic)) (global.get $MC)))
          (call $pack_a (local.get $transA) (local.get $a) (local.get $lda) (local.get $ic) (local.get $mc)
            (local.get $pc) (local.get $kc) (local.get $packA))
          (local.set $jr (i32.const 0))
          (block $done_jr (loop $next_jr
            (br_if $done_jr (i32.ge_u (local.get $jr) (local.get $nc)))
            (local.set $nr (call $min (i32.sub (local.get $nc) (local.get $jr)) (i32.const 16)))
            (local.set $pb (i32.add (local.get $bBlock) (i32.shl (i32.mul
              (i32.add (local.get $panel0) (local.get $jr)) (local.get $kc)) (i32.const 2))))
            (local.set $ir (i32.const 0))
            (block $done_ir (loop $next_ir
              (br_if $done_ir (i32.ge_u (local.get $ir) (local.get $mc)))
              (local.set $mr (call $min (i32.sub (local.get $mc) (local.get $ir)) (i32.const 2)))
              (local.set $pa (i32.add (local.get $packA) (i32.shl (i32.mul (local.get $ir) (local.get $kc))
                (i32.const 2))))
              ;; C[ic+ir, jc+jr]
              (local.set $cTile (i32.add (local.get $c) (i32.add
                (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldcBytes))
                (i32.shl (i32.add (local.get $jc) (local.get $jr)) (i32.const 2)))))
              (if (i32.and (i32.eq (local.get $mr) (i32.const 2)) (i32.eq (local.get $nr) (i32.const 16)))
                (then (call $kernel_2x16 (local.get $kc) (local.get $pa) (local.get $pb)
                  (local.get $cTile) (local.get $ldcBytes) (local.get $load)))
                (else
                  ;; A partial tile runs in the scratch tile, so the kernel never touches floats
                  ;; outside C. Zeroed first: stale lanes must not be denormals or NaNs.
                  (v128.store offset=0 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=16 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=32 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=48 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=64 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=80 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=96 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (v128.store offset=112 (local.get $tile) (v128.const i32x4 0 0 0 0))
                  (if (local.get $load)
                    (then (call $copy_tile (local.get $cTile) (local.get $ldcBytes) (local.get $tile)
                      (i32.const 64) (local.get $mr) (local.get $nr))))
                  (if (i32.gt_u (local.get $nr) (i32.const 12))
                    (then (call $kernel_2x16 (local.get $kc) (local.get $pa) (local.get $pb) (local.get $tile)
                      (i32.const 64) (local.get $load)))
                    (else
                      ;; a narrow panel: only its ⌈nr/4⌉ quarters
                      (local.set $v (i32.const 0))
                      (loop $quarter
                        (call $kernel_2x4 (local.get $kc) (local.get $pa) (i32.add (local.get $pb) (local.get $v))
                          (i32.add (local.get $tile) (local.get $v)) (i32.const 64) (local.get $load))
                        (br_if $quarter (i32.lt_u
                          (local.tee $v (i32.add (local.get $v) (i32.const 16)))
                          (i32.shl (local.get $nr) (i32.const 2)))))))
                  (call $copy_tile (local.get $tile) (i32.const 64) (local.get $cTile) (local.get $ldcBytes)
                    (local.get $mr) (local.get $nr))))
              (local.set $ir (i32.add (local.get $ir) (i32.const 2)))
              (br $next_ir)))
            (local.set $jr (i32.add (local.get $jr) (i32.const 16)))
            (br $next_jr)))
          (local.set $ic (i32.add (local.get $ic) (global.get $MC)))
          (br $next_ic)))
        (local.set $pc (i32.add (local.get $pc) (global.get $KC)))
        (br $next_pc)))
      (local.set $jc (i32.add (local.get $jc) (global.get $NC)))
      (br $next_jc))))
)
