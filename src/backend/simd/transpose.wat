;; A 4-byte-element transpose on the wasm heap of tfjs-backend-wasm, whose memory it imports: `outer`
;; consecutive (R × C) matrices at byte offset x, each written transposed (C × R) at byte offset y.
;; `transpose_runs` does the same for elements that are runs of `inner` floats (attention's head split), one
;; `memory.copy` per run. 4 × 4 tiles move as four v128 loads, eight lane shuffles and four v128 stores; tiles are walked a strip of
;; 4 rows at a time within column blocks of 64, so the 64 output rows being written stay in cache. The edges
;; (R mod 4 rows, C mod 4 columns) are copied one element at a time. Elements are copied as bits (i32/v128).
;; Built into transpose-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  ;; y[c][r] = x[r][c] for r in [r0, r1), c in [c0, c1), one element at a time
  (func $edge (param $x i32) (param $y i32) (param $R i32) (param $C i32)
              (param $r0 i32) (param $r1 i32) (param $c0 i32) (param $c1 i32)
    (local $r i32) (local $c i32)
    (local.set $r (local.get $r0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $r1)))
        (local.set $c (local.get $c0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $c) (local.get $c1)))
            (i32.store
              (i32.add (local.get $y)
                (i32.shl (i32.add (i32.mul (local.get $c) (local.get $R)) (local.get $r)) (i32.const 2)))
              (i32.load
                (i32.add (local.get $x)
                  (i32.shl (i32.add (i32.mul (local.get $r) (local.get $C)) (local.get $c)) (i32.const 2)))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cols)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; one (R × C) matrix
  (func $matrix (param $x i32) (param $y i32) (param $R i32) (param $C i32)
    (local $R4 i32) (local $C4 i32) (local $rowBytes i32) (local $colBytes i32)
    (local $block i32) (local $blockEnd i32) (local $r i32) (local $c i32) (local $src i32) (local $dst i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $R4 (i32.and (local.get $R) (i32.const -4)))
    (local.set $C4 (i32.and (local.get $C) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $C) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $R) (i32.const 2)))
    (block $blocks_done
      (loop $blocks
        (br_if $blocks_done (i32.ge_u (local.get $block) (local.get $C4)))
        (local.set $blockEnd (i32.add (local.get $block) (i32.const 64)))
        (if (i32.gt_u (local.get $blockEnd) (local.get $C4)) (then (local.set $blockEnd (local.get $C4))))
        (local.set $r (i32.const 0))
        (block $strips_done
          (loop $strips
            (br_if $strips_done (i32.ge_u (local.get $r) (local.get $R4)))
            (local.set $c (local.get $block))
            (block $tiles_done
              (loop $tiles
                (br_if $tiles_done (i32.ge_u (local.get $c) (local.get $blockEnd)))
                ;; rows r … r+3 of columns c … c+3
                (local.set $src (i32.add (local.get $x)
                  (i32.shl (i32.add (i32.mul (local.get $r) (local.get $C)) (local.get $c)) (i32.const 2))))
                (local.set $a0 (v128.load (local.get $src)))
                (local.set $a1 (v128.load (i32.add (local.get $src) (local.get $rowBytes))))
                (local.set $a2 (v128.load (i32.add (local.get $src) (i32.shl (local.get $rowBytes) (i32.const 1)))))
                (local.set $a3 (v128.load (i32.add (local.get $src) (i32.mul (local.get $rowBytes) (i32.const 3)))))
                ;; t0 = [a0₀ a1₀ a0₁ a1₁], t1 = [a0₂ a1₂ a0₃ a1₃], t2, t3 likewise for a2, a3
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
                ;; column k of the tile → row c+k of y, at column r
                (local.set $dst (i32.add (local.get $y)
                  (i32.shl (i32.add (i32.mul (local.get $c) (local.get $R)) (local.get $r)) (i32.const 2))))
                (v128.store (local.get $dst)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store (i32.add (local.get $dst) (local.get $colBytes))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store (i32.add (local.get $dst) (i32.shl (local.get $colBytes) (i32.const 1)))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store (i32.add (local.get $dst) (i32.mul (local.get $colBytes) (i32.const 3)))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $c (i32.add (local.get $c) (i32.const 4)))
                (br $tiles)))
            (local.set $r (i32.add (local.get $r) (i32.const 4)))
            (br $strips)))
        (local.set $block (local.get $blockEnd))
        (br $blocks)))
    (call $edge (local.get $x) (local.get $y) (local.get $R) (local.get $C)
      (local.get $R4) (local.get $R) (i32.const 0) (local.get $C))
    (call $edge (local.get $x) (local.get $y) (local.get $R) (local.get $C)
      (i32.const 0) (local.get $R4) (local.get $C4) (local.get $C)))

  (func (export "transpose") (param $x i32) (param $y i32) (param $outer i32) (param $R i32) (param $C i32)
    (local $o i32) (local $bytes i32)
    (local.set $bytes (i32.shl (i32.mul (local.get $R) (local.get $C)) (i32.const 2)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $o) (local.get $outer)))
        (call $matrix (local.get $x) (local.get $y) (local.get $R) (local.get $C))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $y (i32.add (local.get $y) (local.get $bytes)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $each))))

  ;; y[o][c][r][·] = x[o][r][c][·] for runs [·] of `inner` 4-byte elements
  (func (export "transpose_runs") (param $x i32) (param $y i32) (param $outer i32) (param $R i32) (param $C i32)
                                  (param $inner i32)
    (local $o i32) (local $r i32) (local $c i32) (local $run i32) (local $bytes i32) (local $dst i32)
    (local.set $run (i32.shl (local.get $inner) (i32.const 2)))
    (local.set $bytes (i32.mul (i32.mul (local.get $R) (local.get $C)) (local.get $run)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $o) (local.get $outer)))
        (local.set $dst (local.get $y))
        (local.set $c (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $r (i32.const 0))
            (block $rows_done
              (loop $rows
                (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
                (memory.copy (local.get $dst)
                  (i32.add (local.get $x)
                    (i32.mul (i32.add (i32.mul (local.get $r) (local.get $C)) (local.get $c)) (local.get $run)))
                  (local.get $run))
                (local.set $dst (i32.add (local.get $dst) (local.get $run)))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $rows)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cols)))
        (local.set $x (i32.add (local.get $x) (local.get $bytes)))
        (local.set $y (i32.add (local.get $y) (local.get $bytes)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $each)))))
