;; Elementwise float32 kernels in WebAssembly SIMD, four lanes at a time, on the shared heap.
;; GELU with the exact (erf) form: Φ(x) from Numerical Recipes' erfc fit (fractional error
;; < 1.2e-7) and exp from Cephes' expf (range reduction by ln 2, degree-6 polynomial, the power of
;; two added to the exponent bits): the same formulas as gelu32 in ../math.ts, vectorised.
;; Pointers are byte offsets; n counts floats and must be a multiple of 4 (the caller does the tail)
;; unless a kernel says it takes any n. A pointer of 0 means "no such array" (0 is never a tensor).
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

  ;; dx[i] += dy[i]·(Φ(x) + x·φ(x)), with Φ(x) = y/x from the forward's output (one exp, not two)
  ;; except where |x| ≤ 1e-3 and the division would lose the digits the product rounded away
  (func (export "gelu_backward") (param $x i32) (param $y i32) (param $dy i32) (param $dx i32) (param $n i32)
    (local $i i32) (local $v v128) (local $cdf v128) (local $small v128) (local $at i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $at (i32.shl (local.get $i) (i32.const 2)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $at))))
        (local.set $cdf (f32x4.div (v128.load (i32.add (local.get $y) (local.get $at))) (local.get $v)))
        (local.set $small (f32x4.le (f32x4.abs (local.get $v)) (v128.const f32x4 1e-3 1e-3 1e-3 1e-3)))
        (if (v128.any_true (local.get $small))
          (then (local.set $cdf (v128.bitselect (call $cdf4 (local.get $v)) (local.get $cdf) (local.get $small)))))
        (v128.store (i32.add (local.get $dx) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $dx) (local.get $at)))
            (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $at)))
              (f32x4.add (local.get $cdf)
                (f32x4.mul (f32x4.mul (local.get $v) (v128.const f32x4 0.3989422804014327 0.3989422804014327 0.3989422804014327 0.3989422804014327))
                  (call $exp4 (f32x4.mul (f32x4.mul (local.get $v) (local.get $v)) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))))))))
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

  ;; One LSTM step backward (the gate loop of lstmBackward), B rows, H a multiple of 4. acts and dG
  ;; point at the step's (B, 4H) gates, cs, dhs and cPrev at its (B, H) states; dhNext and dcNext
  ;; (B, H) carry dh_{t+1}·W_hh and dc_{t+1} in, and dcNext carries dc_t·f out.
  (func (export "lstm_cell_backward") (param $acts i32) (param $cs i32) (param $cPrev i32) (param $dhs i32)
    (param $dhNext i32) (param $dcNext i32) (param $dG i32) (param $B i32) (param $H i32)
    (local $b i32) (local $k i32) (local $a i32) (local $s i32) (local $h4 i32)
    (local $ig v128) (local $fg v128) (local $gg v128) (local $og v128)
    (local $dh v128) (local $tc v128) (local $dc v128) (local $one v128)
    (local.set $h4 (i32.shl (local.get $H) (i32.const 2)))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $k (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $k) (local.get $H)))
            ;; byte offsets of gate i at (b, k) in a (B, 4H) block and of (b, k) in a (B, H) block
            (local.set $a (i32.shl (i32.add (i32.mul (local.get $b) (i32.shl (local.get $H) (i32.const 2))) (local.get $k)) (i32.const 2)))
            (local.set $s (i32.shl (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $k)) (i32.const 2)))
            (local.set $ig (v128.load (i32.add (local.get $acts) (local.get $a))))
            (local.set $fg (v128.load (i32.add (i32.add (local.get $acts) (local.get $a)) (local.get $h4))))
            (local.set $gg (v128.load (i32.add (i32.add (local.get $acts) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1)))))
            (local.set $og (v128.load (i32.add (i32.add (local.get $acts) (local.get $a)) (i32.mul (local.get $h4) (i32.const 3)))))
            (local.set $dh (f32x4.add (v128.load (i32.add (local.get $dhs) (local.get $s))) (v128.load (i32.add (local.get $dhNext) (local.get $s)))))
            (local.set $tc (call $tanh4 (v128.load (i32.add (local.get $cs) (local.get $s)))))
            ;; dc = dc_{t+1} + dh·o·(1 − tanh²c)
            (local.set $dc (f32x4.add (v128.load (i32.add (local.get $dcNext) (local.get $s)))
              (f32x4.mul (f32x4.mul (local.get $dh) (local.get $og))
                (f32x4.sub (local.get $one) (f32x4.mul (local.get $tc) (local.get $tc))))))
            (v128.store (i32.add (local.get $dcNext) (local.get $s)) (f32x4.mul (local.get $dc) (local.get $fg)))
            ;; di·σ', df·σ', dg·tanh', do·σ'
            (v128.store (i32.add (local.get $dG) (local.get $a))
              (f32x4.mul (f32x4.mul (f32x4.mul (local.get $dc) (local.get $gg)) (local.get $ig)) (f32x4.sub (local.get $one) (local.get $ig))))
            (v128.store (i32.add (i32.add (local.get $dG) (local.get $a)) (local.get $h4))
              (f32x4.mul (f32x4.mul (f32x4.mul (local.get $dc) (v128.load (i32.add (local.get $cPrev) (local.get $s)))) (local.get $fg))
                (f32x4.sub (local.get $one) (local.get $fg))))
            (v128.store (i32.add (i32.add (local.get $dG) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1)))
              (f32x4.mul (f32x4.mul (local.get $dc) (local.get $ig)) (f32x4.sub (local.get $one) (f32x4.mul (local.get $gg) (local.get $gg)))))
            (v128.store (i32.add (i32.add (local.get $dG) (local.get $a)) (i32.mul (local.get $h4) (i32.const 3)))
              (f32x4.mul (f32x4.mul (f32x4.mul (local.get $dh) (local.get $tc)) (local.get $og)) (f32x4.sub (local.get $one) (local.get $og))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $next)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $rows))))

  ;; y[i] = a[i] + b[i], any n (the last n mod 4 one at a time); y may be a or b
  (func $add (export "add") (param $a i32) (param $b i32) (param $y i32) (param $n i32)
    (local $at i32) (local $end i32)
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end (i32.and (local.get $n) (i32.const -16)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (i32.add (local.get $y) (local.get $at))
          (f32x4.add (v128.load (i32.add (local.get $a) (local.get $at))) (v128.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $at) (local.get $n)))
        (f32.store (i32.add (local.get $y) (local.get $at))
          (f32.add (f32.load (i32.add (local.get $a) (local.get $at))) (f32.load (i32.add (local.get $b) (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $tail))))

  ;; y[r][k] = x[r][k] + bias[k] for rows × width, any width (y may be x)
  (func (export "add_rows") (param $x i32) (param $bias i32) (param $y i32) (param $rows i32) (param $width i32)
    (local $r i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (call $add (local.get $x) (local.get $bias) (local.get $y) (local.get $width))
        (local.set $x (i32.add (local.get $x) (local.get $stride)))
        (local.set $y (i32.add (local.get $y) (local.get $stride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next))))

  ;; dst[k] += Σ_r src[r][k] over rows × width, any width, row by row in order (as the JS loop)
  (func (export "add_row_sums") (param $src i32) (param $dst i32) (param $rows i32) (param $width i32)
    (local $r i32) (local $stride i32)
    (local.set $stride (i32.shl (local.get $width) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (call $add (local.get $dst) (local.get $src) (local.get $dst) (local.get $width))
        (local.set $src (i32.add (local.get $src) (local.get $stride)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next))))

  ;; AdamW / Adam with L2 over n floats (a multiple of 4), as torch.optim.AdamW's single-tensor
  ;; step: p ← p·decay; g' = g + l2·p; m ← β1·m + (1−β1)·g'; v ← β2·v + (1−β2)·g'²;
  ;; p ← p − stepSize·m / (√v / √(1−β2ᵗ) + eps). decay is 1 without decoupled decay, l2 0 with it.
  (func (export "adam_step") (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $beta1 f32) (param $oneMinusBeta1 f32) (param $beta2 f32) (param $oneMinusBeta2 f32)
    (param $stepSize f32) (param $bc2Sqrt f32) (param $eps f32) (param $decay f32) (param $l2 f32)
    (local $at i32) (local $end i32)
    (local $B1 v128) (local $A1 v128) (local $B2 v128) (local $A2 v128) (local $SS v128) (local $BC2 v128)
    (local $EPS v128) (local $DECAY v128) (local $L2 v128)
    (local $pv v128) (local $gv v128) (local $mv v128) (local $vv v128)
    (local.set $B1 (f32x4.splat (local.get $beta1)))
    (local.set $A1 (f32x4.splat (local.get $oneMinusBeta1)))
    (local.set $B2 (f32x4.splat (local.get $beta2)))
    (local.set $A2 (f32x4.splat (local.get $oneMinusBeta2)))
    (local.set $SS (f32x4.splat (local.get $stepSize)))
    (local.set $BC2 (f32x4.splat (local.get $bc2Sqrt)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $DECAY (f32x4.splat (local.get $decay)))
    (local.set $L2 (f32x4.splat (local.get $l2)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $pv (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $at))) (local.get $DECAY)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $at))))
        ;; a branch, not + 0·p, so that an infinite p does not turn the gradient into NaN
        (if (f32.ne (local.get $l2) (f32.const 0))
          (then (local.set $gv (f32x4.add (local.get $gv) (f32x4.mul (local.get $L2) (local.get $pv))))))
        (local.set $mv (f32x4.add (f32x4.mul (local.get $B1) (v128.load (i32.add (local.get $m) (local.get $at))))
          (f32x4.mul (local.get $A1) (local.get $gv))))
        (local.set $vv (f32x4.add (f32x4.mul (local.get $B2) (v128.load (i32.add (local.get $v) (local.get $at))))
          (f32x4.mul (f32x4.mul (local.get $A2) (local.get $gv)) (local.get $gv))))
        (v128.store (i32.add (local.get $m) (local.get $at)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $at)) (local.get $vv))
        (v128.store (i32.add (local.get $p) (local.get $at))
          (f32x4.sub (local.get $pv)
            (f32x4.div (f32x4.mul (local.get $SS) (local.get $mv))
              (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vv)) (local.get $BC2)) (local.get $EPS)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next))))

  ;; lane 0 + lane 1 + lane 2 + lane 3, in that order
  (func $hsum (param $v v128) (result f32)
    (f32.add (f32.add (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32x4.extract_lane 2 (local.get $v))) (f32x4.extract_lane 3 (local.get $v))))

  ;; the low and high float pairs of four floats, as doubles
  (func $low2 (param $v v128) (result v128)
    (f64x2.promote_low_f32x4 (local.get $v)))
  (func $high2 (param $v v128) (result v128)
    (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))

  ;; Layer norm over R rows of C (a multiple of 4): y = (x − mean)·rstd·gain + bias, with the mean
  ;; and rstd = 1/√(biased variance + eps) of each row saved for the backward. In double precision
  ;; as the JS kernel (only the output is rounded to float32), so that a row with a large mean loses
  ;; nothing to cancellation; each row's sums run in four lanes then across them, a fixed order.
  (func (export "layer_norm_forward") (param $x i32) (param $gain i32) (param $bias i32) (param $y i32)
    (param $mean i32) (param $rstd i32) (param $R i32) (param $C i32) (param $eps f64)
    (local $r i32) (local $c i32) (local $end i32) (local $v v128) (local $g v128) (local $b v128)
    (local $acc0 v128) (local $acc1 v128) (local $d v128) (local $lo v128) (local $hi v128)
    (local $m f64) (local $s f64) (local $M v128) (local $S v128)
    (local.set $end (i32.shl (local.get $C) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $acc0 (v128.const f64x2 0 0))
        (local.set $acc1 (v128.const f64x2 0 0))
        (local.set $c (i32.const 0))
        (block $sum_done
          (loop $sum
            (br_if $sum_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $v (v128.load (i32.add (local.get $x) (local.get $c))))
            (local.set $acc0 (f64x2.add (local.get $acc0) (call $low2 (local.get $v))))
            (local.set $acc1 (f64x2.add (local.get $acc1) (call $high2 (local.get $v))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $sum)))
        (local.set $m (f64.div (call $hsum2 (local.get $acc0) (local.get $acc1)) (f64.convert_i32_u (local.get $C))))
        (local.set $M (f64x2.splat (local.get $m)))
        (local.set $acc0 (v128.const f64x2 0 0))
        (local.set $acc1 (v128.const f64x2 0 0))
        (local.set $c (i32.const 0))
        (block $var_done
          (loop $var
            (br_if $var_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $v (v128.load (i32.add (local.get $x) (local.get $c))))
            (local.set $d (f64x2.sub (call $low2 (local.get $v)) (local.get $M)))
            (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $d) (local.get $d))))
            (local.set $d (f64x2.sub (call $high2 (local.get $v)) (local.get $M)))
            (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $d) (local.get $d))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $var)))
        (local.set $s (f64.div (f64.const 1)
          (f64.sqrt (f64.add (f64.div (call $hsum2 (local.get $acc0) (local.get $acc1)) (f64.convert_i32_u (local.get $C))) (local.get $eps)))))
        (local.set $S (f64x2.splat (local.get $s)))
        (local.set $c (i32.const 0))
        (block $out_done
          (loop $out
            (br_if $out_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $v (v128.load (i32.add (local.get $x) (local.get $c))))
            (local.set $g (v128.load (i32.add (local.get $gain) (local.get $c))))
            (local.set $b (v128.load (i32.add (local.get $bias) (local.get $c))))
            (local.set $lo (f64x2.add (f64x2.mul (f64x2.mul (f64x2.sub (call $low2 (local.get $v)) (local.get $M)) (local.get $S)) (call $low2 (local.get $g)))
              (call $low2 (local.get $b))))
            (local.set $hi (f64x2.add (f64x2.mul (f64x2.mul (f64x2.sub (call $high2 (local.get $v)) (local.get $M)) (local.get $S)) (call $high2 (local.get $g)))
              (call $high2 (local.get $b))))
            (v128.store (i32.add (local.get $y) (local.get $c))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $out)))
        (f32.store (i32.add (local.get $mean) (i32.shl (local.get $r) (i32.const 2))) (f32.demote_f64 (local.get $m)))
        (f32.store (i32.add (local.get $rstd) (i32.shl (local.get $r) (i32.const 2))) (f32.demote_f64 (local.get $s)))
        (local.set $x (i32.add (local.get $x) (local.get $end)))
        (local.set $y (i32.add (local.get $y) (local.get $end)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; acc0 lane 0 + acc0 lane 1 + acc1 lane 0 + acc1 lane 1, in that order
  (func $hsum2 (param $acc0 v128) (param $acc1 v128) (result f64)
    (f64.add (f64.add (f64.add (f64x2.extract_lane 0 (local.get $acc0)) (f64x2.extract_lane 1 (local.get $acc0)))
      (f64x2.extract_lane 0 (local.get $acc1))) (f64x2.extract_lane 1 (local.get $acc1))))

  ;; Layer norm backward over R rows of C (a multiple of 4), accumulating: with n = (x − mean)·rstd
  ;; and dn = dy·gain, dx += (dn − mean(dn) − n·mean(dn·n))·rstd, dgain += dy·n, dbias += dy.
  ;; dx, dgain or dbias may be 0 (not wanted).
  (func (export "layer_norm_backward") (param $dy i32) (param $x i32) (param $gain i32) (param $mean i32) (param $rstd i32)
    (param $dx i32) (param $dgain i32) (param $dbias i32) (param $R i32) (param $C i32)
    (local $r i32) (local $c i32) (local $end i32) (local $acc1 v128) (local $acc2 v128)
    (local $M v128) (local $S v128) (local $norm v128) (local $dyv v128) (local $dn v128)
    (local $DM v128) (local $DNM v128) (local $count f32)
    (local.set $end (i32.shl (local.get $C) (i32.const 2)))
    (local.set $count (f32.convert_i32_u (local.get $C)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $M (v128.load32_splat (i32.add (local.get $mean) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $S (v128.load32_splat (i32.add (local.get $rstd) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $acc1 (v128.const f32x4 0 0 0 0))
        (local.set $acc2 (v128.const f32x4 0 0 0 0))
        (local.set $c (i32.const 0))
        (block $sum_done
          (loop $sum
            (br_if $sum_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $norm (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (local.get $M)) (local.get $S)))
            (local.set $dn (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $c))) (v128.load (i32.add (local.get $gain) (local.get $c)))))
            (local.set $acc1 (f32x4.add (local.get $acc1) (local.get $dn)))
            (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (local.get $dn) (local.get $norm))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $sum)))
        (local.set $DM (f32x4.splat (f32.div (call $hsum (local.get $acc1)) (local.get $count))))
        (local.set $DNM (f32x4.splat (f32.div (call $hsum (local.get $acc2)) (local.get $count))))
        (local.set $c (i32.const 0))
        (block $out_done
          (loop $out
            (br_if $out_done (i32.ge_u (local.get $c) (local.get $end)))
            (local.set $norm (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $c))) (local.get $M)) (local.get $S)))
            (local.set $dyv (v128.load (i32.add (local.get $dy) (local.get $c))))
            (if (local.get $dx)
              (then
                (v128.store (i32.add (local.get $dx) (local.get $c))
                  (f32x4.add (v128.load (i32.add (local.get $dx) (local.get $c)))
                    (f32x4.mul
                      (f32x4.sub (f32x4.sub (f32x4.mul (local.get $dyv) (v128.load (i32.add (local.get $gain) (local.get $c)))) (local.get $DM))
                        (f32x4.mul (local.get $norm) (local.get $DNM)))
                      (local.get $S))))))
            (if (local.get $dgain)
              (then
                (v128.store (i32.add (local.get $dgain) (local.get $c))
                  (f32x4.add (v128.load (i32.add (local.get $dgain) (local.get $c))) (f32x4.mul (local.get $dyv) (local.get $norm))))))
            (if (local.get $dbias)
              (then
                (v128.store (i32.add (local.get $dbias) (local.get $c))
                  (f32x4.add (v128.load (i32.add (local.get $dbias) (local.get $c))) (local.get $dyv)))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $out)))
        (local.set $x (i32.add (local.get $x) (local.get $end)))
        (local.set $dy (i32.add (local.get $dy) (local.get $end)))
        (if (local.get $dx) (then (local.set $dx (i32.add (local.get $dx) (local.get $end)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; bytes zero bytes from at (memory.fill: a memset, where a typed array's fill on shared memory is not)
  (func (export "zero") (param $at i32) (param $bytes i32)
    (memory.fill (local.get $at) (i32.const 0) (local.get $bytes)))

  ;; Σ x[i]² over n floats, any n, in double precision (each square is exact) as the JS loop;
  ;; four lanes, then across them
  (func (export "sum_squares") (param $x i32) (param $n i32) (result f64)
    (local $at i32) (local $end i32) (local $v v128) (local $lo v128) (local $hi v128) (local $acc0 v128) (local $acc1 v128)
    (local $s f64) (local $f f64)
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end (i32.and (local.get $n) (i32.const -16)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $at))))
        (local.set $lo (call $low2 (local.get $v)))
        (local.set $hi (call $high2 (local.get $v)))
        (local.set $acc0 (f64x2.add (local.get $acc0) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $acc1 (f64x2.add (local.get $acc1) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $vec)))
    (local.set $s (call $hsum2 (local.get $acc0) (local.get $acc1)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $at) (local.get $n)))
        (local.set $f (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $at)))))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $f) (local.get $f))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $tail)))
    (local.get $s))

  ;; x[i] ← x[i]·s over n floats, any n, the product in double and rounded once (as the JS loop)
  (func (export "scale") (param $x i32) (param $n i32) (param $s f64)
    (local $at i32) (local $end i32) (local $v v128) (local $S v128)
    (local.set $S (f64x2.splat (local.get $s)))
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end (i32.and (local.get $n) (i32.const -16)))
    (block $vec_done
      (loop $vec
        (br_if $vec_done (i32.ge_u (local.get $at) (local.get $end)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $at))))
        (v128.store (i32.add (local.get $x) (local.get $at))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (f64x2.mul (call $low2 (local.get $v)) (local.get $S)))
            (f32x4.demote_f64x2_zero (f64x2.mul (call $high2 (local.get $v)) (local.get $S)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $vec)))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $at) (local.get $n)))
        (f32.store (i32.add (local.get $x) (local.get $at))
          (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $at)))) (local.get $s))))
        (local.set $at (i32.add (local.get $at) (i32.const 4)))
        (br $tail))))

  ;; e^d per lane for d ≤ 0, and exactly 0 below −87.3 (where exp4 clamps): a −∞ logit gets no mass
  (func $expNonPositive4 (param $d v128) (result v128)
    (v128.and (call $exp4 (local.get $d)) (f32x4.ge (local.get $d) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))))

  ;; Softmax of R rows of C, any C (the last C mod 4 of a row one lane at a time): y = e^{x − max}/Σ,
  ;; and each row's max and Σ into stats (two floats a row) for the caller's logsumexp.
  (func (export "softmax_rows") (param $x i32) (param $y i32) (param $stats i32) (param $R i32) (param $C i32)
    (local $r i32) (local $at i32) (local $end i32) (local $bytes i32)
    (local $mv v128) (local $acc v128) (local $e v128) (local $M v128) (local $I v128)
    (local $m f32) (local $sum f32) (local $es f32) (local $inv f32)
    (local.set $bytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $end (i32.and (local.get $bytes) (i32.const -16)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
        ;; the row's max
        (local.set $mv (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $at (i32.const 0))
        (block $max_done
          (loop $max
            (br_if $max_done (i32.ge_u (local.get $at) (local.get $end)))
            (local.set $mv (f32x4.max (local.get $mv) (v128.load (i32.add (local.get $x) (local.get $at)))))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $max)))
        (local.set $m (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mv)) (f32x4.extract_lane 1 (local.get $mv)))
          (f32.max (f32x4.extract_lane 2 (local.get $mv)) (f32x4.extract_lane 3 (local.get $mv)))))
        (block $max_tail_done
          (loop $max_tail
            (br_if $max_tail_done (i32.ge_u (local.get $at) (local.get $bytes)))
            (local.set $m (f32.max (local.get $m) (f32.load (i32.add (local.get $x) (local.get $at)))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (br $max_tail)))
        (local.set $M (f32x4.splat (local.get $m)))
        ;; e^{x − max} and its sum
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $at (i32.const 0))
        (block $exp_done
          (loop $exp
            (br_if $exp_done (i32.ge_u (local.get $at) (local.get $end)))
            (local.set $e (call $expNonPositive4 (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $at))) (local.get $M))))
            (v128.store (i32.add (local.get $y) (local.get $at)) (local.get $e))
            (local.set $acc (f32x4.add (local.get $acc) (local.get $e)))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $exp)))
        (local.set $sum (call $hsum (local.get $acc)))
        (block $exp_tail_done
          (loop $exp_tail
            (br_if $exp_tail_done (i32.ge_u (local.get $at) (local.get $bytes)))
            (local.set $es (f32x4.extract_lane 0 (call $expNonPositive4
              (f32x4.splat (f32.sub (f32.load (i32.add (local.get $x) (local.get $at))) (local.get $m))))))
            (f32.store (i32.add (local.get $y) (local.get $at)) (local.get $es))
            (local.set $sum (f32.add (local.get $sum) (local.get $es)))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (br $exp_tail)))
        ;; normalise
        (local.set $inv (f32.div (f32.const 1) (local.get $sum)))
        (local.set $I (f32x4.splat (local.get $inv)))
        (local.set $at (i32.const 0))
        (block $norm_done
          (loop $norm
            (br_if $norm_done (i32.ge_u (local.get $at) (local.get $end)))
            (v128.store (i32.add (local.get $y) (local.get $at)) (f32x4.mul (v128.load (i32.add (local.get $y) (local.get $at))) (local.get $I)))
            (local.set $at (i32.add (local.get $at) (i32.const 16)))
            (br $norm)))
        (block $norm_tail_done
          (loop $norm_tail
            (br_if $norm_tail_done (i32.ge_u (local.get $at) (local.get $bytes)))
            (f32.store (i32.add (local.get $y) (local.get $at)) (f32.mul (f32.load (i32.add (local.get $y) (local.get $at))) (local.get $inv)))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (br $norm_tail)))
        (f32.store (local.get $stats) (local.get $m))
        (f32.store offset=4 (local.get $stats) (local.get $sum))
        (local.set $stats (i32.add (local.get $stats) (i32.const 8)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $y (i32.add (local.get $y) (local.get $bytes)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; One GRU time step (the gate loop of gruForward), B rows, H a multiple of 4: gi and acts point at
  ;; the step's (B, 3H) input projections and gates r|z|n, gh at h_{t−1}·W_hhᵀ + b_hh (B, 3H), ghn
  ;; (saved W_hn·h + b_hn), hs and hPrev at (B, H) states.
  ;; r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r·gh_n), h = (1 − z)·n + z·h_prev.
  (func (export "gru_cell") (param $gi i32) (param $gh i32) (param $hPrev i32) (param $acts i32) (param $ghn i32)
    (param $hs i32) (param $B i32) (param $H i32)
    (local $b i32) (local $k i32) (local $a i32) (local $s i32) (local $h4 i32)
    (local $r v128) (local $z v128) (local $hn v128) (local $nn v128)
    (local.set $h4 (i32.shl (local.get $H) (i32.const 2)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $k (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $k) (local.get $H)))
            ;; byte offsets of gate r at (b, k) in a (B, 3H) block and of (b, k) in a (B, H) block
            (local.set $a (i32.shl (i32.add (i32.mul (local.get $b) (i32.mul (local.get $H) (i32.const 3))) (local.get $k)) (i32.const 2)))
            (local.set $s (i32.shl (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $k)) (i32.const 2)))
            (local.set $r (call $sigmoid4 (f32x4.add (v128.load (i32.add (local.get $gi) (local.get $a))) (v128.load (i32.add (local.get $gh) (local.get $a))))))
            (local.set $z (call $sigmoid4 (f32x4.add
              (v128.load (i32.add (i32.add (local.get $gi) (local.get $a)) (local.get $h4)))
              (v128.load (i32.add (i32.add (local.get $gh) (local.get $a)) (local.get $h4))))))
            (local.set $hn (v128.load (i32.add (i32.add (local.get $gh) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1)))))
            (local.set $nn (call $tanh4 (f32x4.add
              (v128.load (i32.add (i32.add (local.get $gi) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1))))
              (f32x4.mul (local.get $r) (local.get $hn)))))
            (v128.store (i32.add (local.get $acts) (local.get $a)) (local.get $r))
            (v128.store (i32.add (i32.add (local.get $acts) (local.get $a)) (local.get $h4)) (local.get $z))
            (v128.store (i32.add (i32.add (local.get $acts) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1))) (local.get $nn))
            (v128.store (i32.add (local.get $ghn) (local.get $s)) (local.get $hn))
            (v128.store (i32.add (local.get $hs) (local.get $s))
              (f32x4.add (f32x4.mul (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $z)) (local.get $nn))
                (f32x4.mul (local.get $z) (v128.load (i32.add (local.get $hPrev) (local.get $s))))))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $next)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $rows))))

  ;; One GRU step backward (the gate loop of gruBackward), same layout as gru_cell; dGi and dGh
  ;; (B, 3H) receive the gate gradients for the input and hidden projections, dhNext (B, H) carries
  ;; dh_{t+1}·W_hh in and dh·z out (the caller adds dG_h·W_hh).
  (func (export "gru_cell_backward") (param $acts i32) (param $ghn i32) (param $hPrev i32) (param $dhs i32)
    (param $dhNext i32) (param $dGi i32) (param $dGh i32) (param $B i32) (param $H i32)
    (local $b i32) (local $k i32) (local $a i32) (local $s i32) (local $h4 i32)
    (local $r v128) (local $z v128) (local $nn v128) (local $dh v128) (local $dan v128) (local $dar v128) (local $daz v128)
    (local $one v128)
    (local.set $h4 (i32.shl (local.get $H) (i32.const 2)))
    (local.set $one (v128.const f32x4 1 1 1 1))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $k (i32.const 0))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $k) (local.get $H)))
            (local.set $a (i32.shl (i32.add (i32.mul (local.get $b) (i32.mul (local.get $H) (i32.const 3))) (local.get $k)) (i32.const 2)))
            (local.set $s (i32.shl (i32.add (i32.mul (local.get $b) (local.get $H)) (local.get $k)) (i32.const 2)))
            (local.set $r (v128.load (i32.add (local.get $acts) (local.get $a))))
            (local.set $z (v128.load (i32.add (i32.add (local.get $acts) (local.get $a)) (local.get $h4))))
            (local.set $nn (v128.load (i32.add (i32.add (local.get $acts) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1)))))
            (local.set $dh (f32x4.add (v128.load (i32.add (local.get $dhs) (local.get $s))) (v128.load (i32.add (local.get $dhNext) (local.get $s)))))
            ;; dan = dh·(1 − z)·(1 − n²); dar = dan·ghn·r·(1 − r); daz = dh·(h_prev − n)·z·(1 − z)
            (local.set $dan (f32x4.mul (f32x4.mul (local.get $dh) (f32x4.sub (local.get $one) (local.get $z)))
              (f32x4.sub (local.get $one) (f32x4.mul (local.get $nn) (local.get $nn)))))
            (local.set $dar (f32x4.mul (f32x4.mul (f32x4.mul (local.get $dan) (v128.load (i32.add (local.get $ghn) (local.get $s)))) (local.get $r))
              (f32x4.sub (local.get $one) (local.get $r))))
            (local.set $daz (f32x4.mul (f32x4.mul (f32x4.mul (local.get $dh)
              (f32x4.sub (v128.load (i32.add (local.get $hPrev) (local.get $s))) (local.get $nn))) (local.get $z))
              (f32x4.sub (local.get $one) (local.get $z))))
            (v128.store (i32.add (local.get $dGi) (local.get $a)) (local.get $dar))
            (v128.store (i32.add (i32.add (local.get $dGi) (local.get $a)) (local.get $h4)) (local.get $daz))
            (v128.store (i32.add (i32.add (local.get $dGi) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1))) (local.get $dan))
            (v128.store (i32.add (local.get $dGh) (local.get $a)) (local.get $dar))
            (v128.store (i32.add (i32.add (local.get $dGh) (local.get $a)) (local.get $h4)) (local.get $daz))
            (v128.store (i32.add (i32.add (local.get $dGh) (local.get $a)) (i32.shl (local.get $h4) (i32.const 1))) (f32x4.mul (local.get $dan) (local.get $r)))
            (v128.store (i32.add (local.get $dhNext) (local.get $s)) (f32x4.mul (local.get $dh) (local.get $z)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $next)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $rows))))

  ;; y = tanh(x) over n floats, a multiple of 4 (y may be x)
  (func (export "tanh_forward") (param $x i32) (param $y i32) (param $n i32)
    (local $at i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (i32.add (local.get $y) (local.get $at)) (call $tanh4 (v128.load (i32.add (local.get $x) (local.get $at)))))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $next))))
)
