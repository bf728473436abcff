;; The attention softmax's backward on the wasm heap of tfjs-backend-wasm (whose memory it imports), one pass
;; per row of S probabilities: dx = p ⊙ (dy − ⟨p, dy⟩). Four lanes at a time (f32x4), the dot product in four
;; partial sums added at the end; the S mod 4 tail one element at a time. Byte offsets; float32 throughout.
;; Built into softmax-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  (func (export "softmax_grad") (param $dx i32) (param $dy i32) (param $p i32) (param $rows i32) (param $S i32)
    (local $row i32) (local $j i32) (local $S4 i32) (local $rowBytes i32)
    (local $acc v128) (local $dot f32) (local $dotv v128) (local $o i32)
    (local.set $S4 (i32.and (local.get $S) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $S) (i32.const 2)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; dot = Σ_j p[j]·dy[j]
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $dot_done
          (loop $dot4
            (br_if $dot_done (i32.ge_u (local.get $j) (local.get $S4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o)))
                         (v128.load (i32.add (local.get $dy) (local.get $o))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $dot4)))
        (local.set $dot (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $j) (local.get $S)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (local.set $dot (f32.add (local.get $dot)
              (f32.mul (f32.load (i32.add (local.get $p) (local.get $o)))
                       (f32.load (i32.add (local.get $dy) (local.get $o))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $tail)))
        ;; dx[j] = p[j]·(dy[j] − dot)
        (local.set $dotv (f32x4.splat (local.get $dot)))
        (local.set $j (i32.const 0))
        (block $out_done
          (loop $out4
            (br_if $out_done (i32.ge_u (local.get $j) (local.get $S4)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (v128.store (i32.add (local.get $dx) (local.get $o))
              (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $o)))
                         (f32x4.sub (v128.load (i32.add (local.get $dy) (local.get $o))) (local.get $dotv))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $out4)))
        (block $out_tail_done
          (loop $out_tail
            (br_if $out_tail_done (i32.ge_u (local.get $j) (local.get $S)))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (f32.store (i32.add (local.get $dx) (local.get $o))
              (f32.mul (f32.load (i32.add (local.get $p) (local.get $o)))
                       (f32.sub (f32.load (i32.add (local.get $dy) (local.get $o))) (local.get $dot))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $out_tail)))
        (local.set $dx (i32.add (local.get $dx) (local.get $rowBytes)))
        (local.set $dy (i32.add (local.get $dy) (local.get $rowBytes)))
        (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $each_row)))))
