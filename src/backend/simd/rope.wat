;; The rotary embedding with the head split (src/backend/kernels/rope.ts) on the wasm heap of tfjs-backend-wasm
;; (whose memory it imports). Tables per position p, hs floats each: cos2[p] = (c, c, …) and sin2[p] = (−s, s, …)
;; per pair, so a pair (x0, x1) rotates as x ⊙ cos2 + swap(x) ⊙ sin2:
;;   rope_heads:      y[b, h, t] = (x[b·T + t, h] ⊙ cos2[pos + t] + swap(…) ⊙ sin2[pos + t])·scale
;;                    x (B·T, H·hs) → y (B, H, T, hs): each product and the sum rounded to float32 as run.c rounds
;;                    them; the scale applied in float64 and rounded once, as the JS kernel does;
;;   rope_heads_grad: dx[b·T + t, h] = (dy[b, h, t] ⊙ cos2[pos + t] − swap(…) ⊙ sin2[pos + t])·scale, the inverse
;;                    rotation back to (B·T, H·hs), in float32.
;; Four floats (two pairs) at a time; hs is even, and an hs mod 4 = 2 tail is one pair. Byte offsets.
;; Built into rope-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; (x0, x1, x2, x3) → (x1, x0, x3, x2)
  (func $swap (param $v v128) (result v128)
    (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $v) (local.get $v)))

  ;; v·scale per lane in float64, rounded to float32
  (func $scaled (param $v v128) (param $scale f64) (result v128)
    (local $s v128)
    (local.set $s (f64x2.splat (local.get $scale)))
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4 (local.get $v)) (local.get $s)))
      (f32x4.demote_f64x2_zero (f64x2.mul (f64x2.promote_low_f32x4
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $s)))))

  ;; one head's row of hs floats: out = (in ⊙ c + swap(in) ⊙ s)·scale forward, (in ⊙ c − swap(in) ⊙ s)·scale backward
  ;; (the rotation written out twice, for four floats and for a last pair: a call per four floats cost a fifth)
  (func $row (param $out i32) (param $in i32) (param $c i32) (param $s i32) (param $hs i32) (param $scale f64)
    (param $backward i32)
    (local $j i32) (local $hs4 i32) (local $v v128) (local $r v128) (local $sw v128)
    (local.set $hs4 (i32.shl (i32.and (local.get $hs) (i32.const -4)) (i32.const 2))) ;; bytes, as $j
    (block $done
      (loop $each4
        (br_if $done (i32.ge_u (local.get $j) (local.get $hs4)))
        (local.set $v (v128.load (i32.add (local.get $in) (local.get $j))))
        (local.set $sw (f32x4.mul (call $swap (local.get $v)) (v128.load (i32.add (local.get $s) (local.get $j)))))
        (local.set $r (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $c) (local.get $j)))))
        (local.set $r (if (result v128) (local.get $backward)
          (then (f32x4.sub (local.get $r) (local.get $sw)))
          (else (f32x4.add (local.get $r) (local.get $sw)))))
        (if (f64.ne (local.get $scale) (f64.const 1))
          (then (local.set $r (call $scaled (local.get $r) (local.get $scale)))))
        (v128.store (i32.add (local.get $out) (local.get $j)) (local.get $r))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $each4)))
    ;; the last pair when hs mod 4 = 2
    (if (i32.and (local.get $hs) (i32.const 2))
      (then
        (local.set $v (v128.load64_zero (i32.add (local.get $in) (local.get $j))))
        (local.set $sw (f32x4.mul (call $swap (local.get $v))
          (v128.load64_zero (i32.add (local.get $s) (local.get $j)))))
        (local.set $r (f32x4.mul (local.get $v) (v128.load64_zero (i32.add (local.get $c) (local.get $j)))))
        (local.set $r (if (result v128) (local.get $backward)
          (then (f32x4.sub (local.get $r) (local.get $sw)))
          (else (f32x4.add (local.get $r) (local.get $sw)))))
        (if (f64.ne (local.get $scale) (f64.const 1))
          (then (local.set $r (call $scaled (local.get $r) (local.get $scale)))))
        (v128.store64_lane 0 (i32.add (local.get $out) (local.get $j)) (local.get $r)))))

  ;; the forward (backward = 0: x (B·T, H·hs) → y (B, H, T, hs)) or the backward (backward = 1: dy (B, H, T, hs) →
  ;; dx (B·T, H·hs)); a is the input, o the output, both byte offsets; cos2, sin2 the tables' first rows
  (func $heads (param $o i32) (param $a i32) (param $cos2 i32) (param $sin2 i32) (param $B i32) (param $T i32)
    (param $H i32) (param $hs i32) (param $pos i32) (param $scale f64) (param $backward i32)
    (local $b i32) (local $t i32) (local $h i32) (local $rowBytes i32) (local $tab i32) (local $flat i32)
    (local $split i32)
    (local.set $rowBytes (i32.shl (local.get $hs) (i32.const 2)))
    (block $b_done
      (loop $each_b
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $B)))
        (local.set $t (i32.const 0))
        (block $t_done
          (loop $each_t
            (br_if $t_done (i32.ge_u (local.get $t) (local.get $T)))
            (local.set $tab (i32.mul (i32.add (local.get $pos) (local.get $t)) (local.get $rowBytes)))
            (local.set $h (i32.const 0))
            (block $h_done
              (loop $each_h
                (br_if $h_done (i32.ge_u (local.get $h) (local.get $H)))
                ;; row (b·T + t, h) of the (B·T, H·hs) side; row (b, h, t) of the (B, H, T, hs) side
                (local.set $flat (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $T))
                  (local.get $t)) (local.get $H)) (local.get $h)) (local.get $rowBytes)))
                (local.set $split (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $H))
                  (local.get $h)) (local.get $T)) (local.get $t)) (local.get $rowBytes)))
                ;; the input and output rows: flat → split forward, split → flat backward
                (call $row (i32.add (local.get $o) (select (local.get $flat) (local.get $split) (local.get $backward)))
                  (i32.add (local.get $a) (select (local.get $split) (local.get $flat) (local.get $backward)))
                  (i32.add (local.get $cos2) (local.get $tab)) (i32.add (local.get $sin2) (local.get $tab))
                  (local.get $hs) (local.get $scale) (local.get $backward))
                (local.set $h (i32.add (local.get $h) (i32.const 1)))
                (br $each_h)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br $each_t)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $each_b))))

  (func (export "rope_heads") (param $y i32) (param $x i32) (param $cos2 i32) (param $sin2 i32) (param $B i32)
    (param $T i32) (param $H i32) (param $hs i32) (param $pos i32) (param $scale f64)
    (call $heads (local.get $y) (local.get $x) (local.get $cos2) (local.get $sin2) (local.get $B) (local.get $T)
      (local.get $H) (local.get $hs) (local.get $pos) (local.get $scale) (i32.const 0)))

  (func (export "rope_heads_grad") (param $dx i32) (param $dy i32) (param $cos2 i32) (param $sin2 i32) (param $B i32)
    (param $T i32) (param $H i32) (param $hs i32) (param $pos i32) (param $scale f64)
    (call $heads (local.get $dx) (local.get $dy) (local.get $cos2) (local.get $sin2) (local.get $B) (local.get $T)
      (local.get $H) (local.get $hs) (local.get $pos) (local.get $scale) (i32.const 1)))
)
