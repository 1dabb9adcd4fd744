;; Elementwise float32 kernels in WebAssembly SIMD, four lanes at a time, on the shared heap.
;; GELU with the exact (erf) form: Φ(x) from Numerical Recipes' erfc fit (fractional error
;; < 1.2e-7) and exp from Cephes' expf (range reduction by ln 2, degree-6 polynomial, the power of
;; two added to the exponent bits): the same formulas as gelu32 in ../math.ts, vectorised.
;; Pointers are byte offsets; n counts floats and must be a multiple of 4 (the caller does the tail).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; e^x per lane, for x in [-87.3, 88.3] (clamped outside it)
  (func $exp4 (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.max (f32x4.min (local.get $x) (v128.const f32x4 88.3 88.3 88.3 88.3)) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    ;; × 2^n: add n to the exponent field
    (i32x4.add (local.get $p) (i32x4.shl (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32.const 23))))

  ;; Φ(x) per lane: 1 − ½erfc(x/√2) for x ≥ 0, ½erfc(−x/√2) below
  (func $cdf4 (param $x v128) (result v128)
    (local $z v128) (local $t v128) (local $p v128) (local $half v128)
    (local.set $z (f32x4.mul (f32x4.abs (local.get $x)) (v128.const f32x4 0.70710678118654752 0.70710678118654752 0.70710678118654752 0.70710678118654752)))
    (local.set $t (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.add (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $z) (v128.const f32x4 0.5 0.5 0.5 0.5)))))
    (local.set $p (v128.const f32x4 0.17087277 0.17087277 0.17087277 0.17087277))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 -0.82215223 -0.82215223 -0.82215223 -0.82215223)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 1.48851587 1.48851587 1.48851587 1.48851587)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 -1.13520398 -1.13520398 -1.13520398 -1.13520398)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 0.27886807 0.27886807 0.27886807 0.27886807)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 -0.18628806 -0.18628806 -0.18628806 -0.18628806)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 0.09678418 0.09678418 0.09678418 0.09678418)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 0.37409196 0.37409196 0.37409196 0.37409196)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 1.00002368 1.00002368 1.00002368 1.00002368)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) (v128.const f32x4 -1.26551223 -1.26551223 -1.26551223 -1.26551223)))
    ;; ½erfc(|x|/√2) = ½ t e^{−z² + P(t)}
    (local.set $half (f32x4.mul (f32x4.mul (local.get $t) (v128.const f32x4 0.5 0.5 0.5 0.5))
      (call $exp4 (f32x4.sub (local.get $p) (f32x4.mul (local.get $z) (local.get $z))))))
    (v128.bitselect
      (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $half))
      (local.get $half)
      (f32x4.ge (local.get $x) (v128.const f32x4 0 0 0 0))))

  ;; y[i] = x[i]·Φ(x[i])
  (func (export "gelu_forward") (param $x i32) (param $y i32) (param $n i32)
    (local $i i32) (local $v v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
        (v128.store (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 2)))
          (f32x4.mul (local.get $v) (call $cdf4 (local.get $v))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next))))

  ;; dx[i] += dy[i]·(Φ(x) + x·φ(x))
  (func (export "gelu_backward") (param $x i32) (param $dy i32) (param $dx i32) (param $n i32)
    (local $i i32) (local $v v128) (local $g v128) (local $at i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $at))))
        (local.set $g (f32x4.add (call $cdf4 (local.get $v))
          (f32x4.mul (f32x4.mul (local.get $v) (v128.const f32x4 0.3989422804014327 0.3989422804014327 0.3989422804014327 0.3989422804014327))
            (call $exp4 (f32x4.mul (f32x4.mul (local.get $v) (local.get $v)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))))))
        (v128.store (i32.add (local.get $dx) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $dx) (local.get $at)))
            (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $at))) (local.get $g))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next))))

  ;; σ(x) = 1 / (1 + e^{−x}) per lane
  (func $sigmoid4 (param $x v128) (result v128)
    (f32x4.div (v128.const f32x4 1 1 1 1) (f32x4.add (v128.const f32x4 1 1 1 1) (call $exp4 (f32x4.neg (local.get $x))))))

  ;; tanh per lane: Cephes' tanhf, an odd polynomial below |x| = 0.625 (no cancellation near 0),
  ;; (1 − e^{−2|x|}) / (1 + e^{−2|x|}) with the sign of x above
  (func $tanh4 (param $x v128) (result v128)
    (local $ax v128) (local $z v128) (local $p v128) (local $e v128) (local $big v128)
    (local.set $ax (f32x4.abs (local.get $x)))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $p (v128.const f32x4 -5.70498872745e-3 -5.70498872745e-3 -5.70498872745e-3 -5.70498872745e-3))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 2.06390887954e-2 2.06390887954e-2 2.06390887954e-2 2.06390887954e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 -5.37397155531e-2 -5.37397155531e-2 -5.37397155531e-2 -5.37397155531e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 1.33314422036e-1 1.33314422036e-1 1.33314422036e-1 1.33314422036e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $z)) (v128.const f32x4 -3.33332819422e-1 -3.33332819422e-1 -3.33332819422e-1 -3.33332819422e-1)))
    (local.set $p (f32x4.add (local.get $x) (f32x4.mul (f32x4.mul (local.get $x) (local.get $z)) (local.get $p))))
    (local.set $e (call $exp4 (f32x4.mul (local.get $ax) (v128.const f32x4 -2 -2 -2 -2))))
    (local.set $big (f32x4.div (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $e)) (f32x4.add (v128.const f32x4 1 1 1 1) (local.get $e))))
    ;; copy the sign of x onto the large-|x| branch
    (local.set $big (v128.or (local.get $big) (v128.and (local.get $x) (v128.const f32x4 -0.0 -0.0 -0.0 -0.0))))
    (v128.bitselect (local.get $p) (local.get $big) (f32x4.lt (local.get $ax) (v128.const f32x4 0.625 0.625 0.625 0.625))))

  ;; One LSTM time step after the gate pre-activations are in acts (B rows of i|f|g|o, 4H each):
  ;; acts ← σ(i), σ(f), tanh(g), σ(o); c = f·c_prev + i·g; h = o·tanh(c). H must be a multiple of 4.
  (func (export "lstm_cell") (param $acts i32) (param $cPrev i32) (param $cs i32) (param $hs i32) (param $B i32) (param $H i32)
    (local $b i32) (local $k i32) (local $a i32) (local $s i32) (local $h4 i32)
    (local $ig v128) (local $fg v128) (local $gg v128) (local $og v128) (local $c v128)
    (local.set $h4 (i32.shl (local.get $H) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $k (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $k) (local.get $H)))
            ;; byte offsets of gate i at (b, k) and of the state at (b, k)
            (local.set $a (i32.add (local.get $acts) (i32.shl (i32.add (i32.mul (local.get $b) (i32.shl (local.get $H) (i32.const 2))) (local.get $k)) (i32.const 2))))
            (local.set $s (i32.shl (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $k)) (i32.const 2)))
            (local.set $ig (call $sigmoid4 (v128.load (local.get $a))))
            (local.set $fg (call $sigmoid4 (v128.load (i32.add (local.get $a) (local.get $h4)))))
            (local.set $gg (call $tanh4 (v128.load (i32.add (local.get $a) (i32.shl (local.get $h4) (i32.const 1))))))
            (local.set $og (call $sigmoid4 (v128.load (i32.add (local.get $a) (i32.mul (local.get $h4) (i32.const 3))))))
            (v128.store (local.get $a) (local.get $ig))
            (v128.store (i32.add (local.get $a) (local.get $h4)) (local.get $fg))
            (v128.store (i32.add (local.get $a) (i32.shl (local.get $h4) (i32.const 1))) (local.get $gg))
            (v128.store (i32.add (local.get $a) (i32.mul (local.get $h4) (i32.const 3))) (local.get $og))
            (local.set $c (f32x4.add (f32x4.mul (local.get $fg) (v128.load (i32.add (local.get $cPrev) (local.get $s))))
              (f32x4.mul (local.get $ig) (local.get $gg))))
            (v128.store (i32.add (local.get $cs) (local.get $s)) (local.get $c))
            (v128.store (i32.add (local.get $hs) (local.get $s)) (f32x4.mul (local.get $og) (call $tanh4 (local.get $c))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $next)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $rows))))
)
