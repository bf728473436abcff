;; Strided 2-D blocks on the wasm heap of tfjs-backend-wasm (whose memory it imports), for the segmented mixing's
;; stacking of factor blocks (backend/kernels/segmented-rows.ts `stackBlocks`):
;;   block(dst, dstStride, src, srcStride, rows, cols, add): for each of `rows` rows,
;;   dst[r·dstStride + 0 … cols) = (or +=, when add ≠ 0) src[r·srcStride + 0 … cols)
;; Offsets in bytes, strides and sizes in floats; four floats at a time (f32x4), the cols mod 4 left one at a time.
;; Built into blocks-wasm.ts by scripts/build-wasm.mjs.
(module
  (import "env" "memory" (memory 0))

  (func (export "block") (param $dst i32) (param $dstStride i32) (param $src i32) (param $srcStride i32)
                         (param $rows i32) (param $cols i32) (param $add i32)
    (local $r i32) (local $o i32) (local $end4 i32) (local $end i32) (local $d i32) (local $x v128)
    (local.set $end (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $cols) (i32.const -4)) (i32.const 2)))
    (block $rows_done
      (loop $each_row
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $o (i32.const 0))
        (block $v_done
          (loop $v
            (br_if $v_done (i32.ge_u (local.get $o) (local.get $end4)))
            (local.set $d (i32.add (local.get $dst) (local.get $o)))
            (local.set $x (v128.load (i32.add (local.get $src) (local.get $o))))
            (if (local.get $add)
              (then (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (local.get $x))))
              (else (v128.store (local.get $d) (local.get $x))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $v)))
        (block $s_done
          (loop $one
            (br_if $s_done (i32.ge_u (local.get $o) (local.get $end)))
            (local.set $d (i32.add (local.get $dst) (local.get $o)))
            (f32.store (local.get $d)
              (f32.add
                (f32.load (i32.add (local.get $src) (local.get $o)))
                (if (result f32) (local.get $add) (then (f32.load (local.get $d))) (else (f32.const 0)))))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (br $one)))
        (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $dstStride) (i32.const 2))))
        (local.set $src (i32.add (local.get $src) (i32.shl (local.get $srcStride) (i32.const 2))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each_row)))))
