;; e^x on four float32 lanes, for the kernels that include it (a line `;; include parts/exp.wat`, which
;; scripts/build-wasm.mjs replaces with this file): one home for the polynomial.
  ;; e^x per lane: x = k·ln2 + r, |r| ≤ ln2/2; e^r by Taylor to degree 7; 2^k through the exponent bits.
  ;; x is clamped to [−88, 88] (e^−88 ≈ 6e−39 comes out as 0; e^88 ≈ 1.7e38 stays finite) with pmin/pmax, one
  ;; instruction each, which keep a NaN x (it is their first operand). k = round(x·log2 e) comes from adding
  ;; 1.5·2^23: the sum's low mantissa bits are k (rounded to nearest even, as f32x4.nearest), so its bits + 127,
  ;; shifted left by 23, are the float 2^k, with no float-to-int conversion (several instructions on x64).
  (func $exp4 (param $x v128) (result v128)
    (local $f v128) (local $k v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.pmax (f32x4.pmin (local.get $x) (v128.const f32x4 88 88 88 88))
                              (v128.const f32x4 -88 -88 -88 -88)))
    (local.set $f (f32x4.add (f32x4.mul (local.get $x)
      (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
      (v128.const f32x4 12582912 12582912 12582912 12582912)))
    (local.set $k (f32x4.sub (local.get $f) (v128.const f32x4 12582912 12582912 12582912 12582912)))
    ;; r = x − k·ln2, ln2 split in a part exact in float32 and the rest
    (local.set $r (f32x4.sub (local.get $x)
      (f32x4.mul (local.get $k) (v128.const f32x4 0.693145751953125 0.693145751953125 0.693145751953125 0.693145751953125))))
    (local.set $r (f32x4.sub (local.get $r)
      (f32x4.mul (local.get $k)
        (v128.const f32x4 1.428606765330187e-6 1.428606765330187e-6 1.428606765330187e-6 1.428606765330187e-6))))
    (local.set $p (v128.const f32x4 1.98412698412698413e-4 1.98412698412698413e-4 1.98412698412698413e-4 1.98412698412698413e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 1.38888888888888889e-3 1.38888888888888889e-3 1.38888888888888889e-3 1.38888888888888889e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 8.33333333333333333e-3 8.33333333333333333e-3 8.33333333333333333e-3 8.33333333333333333e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 4.16666666666666667e-2 4.16666666666666667e-2 4.16666666666666667e-2 4.16666666666666667e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r))
      (v128.const f32x4 0.166666666666666667 0.166666666666666667 0.166666666666666667 0.166666666666666667)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 0.5 0.5 0.5 0.5)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1 1 1 1)))
    ;; × 2^k: (k + 127) << 23 is the float 2^k (k ≥ −126; k = −127 gives 0)
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (local.get $f) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
