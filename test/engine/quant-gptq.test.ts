// Calibrated int4: the JS calibration forward pass (quant/calibrate.ts) is the real model (its
// logits equal the fp32 ONNX engine's), and GPTQ (quant/gptq.ts) lowers the layer OUTPUT error
// against the calibration inputs compared with quantizing the weights alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint } from '../../engine/local/safetensors';
import { names } from '../../engine/local/weights';
import { CalibrationForward, linear } from '../../engine/local/quant/calibrate';
import { gptqInt4Columns } from '../../engine/local/quant/gptq';
import { dequantizeInt4, dequantizeInt4Columns, quantizeInt4Columns } from '../../engine/local/quant/int4';
import { calibrationFor, CALIBRATION_TOKENS, isCalibrated } from '../../engine/local/model-cache';
import { readConfig } from '../../engine/local/config';
import { loadRunner } from '../../engine/local/load';
import { MODEL_DIR, reference } from './quant-eval';

test('calibration forward pass: last-position logits equal the fp32 engine (two causal sequences at once)', async () => {
  const src = new SafetensorsCheckpoint(MODEL_DIR);
  const cacheDir = mkdtempSync(join(tmpdir(), 'neox-gptq-'));
  try {
    const c = src.config;
    const { hiddenSize: D, intermediateSize: F, vocabSize: V } = c;
    const seqs = [reference.greedy[0].input_ids, reference.greedy[1].input_ids.slice(0, 40)];
    const cf = new CalibrationForward(c, seqs, src.tensor(names.embedIn, [V, D]));
    for (let l = 0; l < c.numLayers; l++) {
      const t = (r: string) => names.layer(l, r);
      const lin = (r: string, N: number, K: number) => ({ weight: src.tensor(`${t(r)}.weight`, [N, K]), bias: src.tensor(`${t(r)}.bias`, [N]) });
      const ln = (r: string) => ({ weight: src.tensor(`${t(r)}.weight`, [D]), bias: src.tensor(`${t(r)}.bias`, [D]) });
      const grams = cf.layer({
        ln1: ln('input_layernorm'),
        ln2: ln('post_attention_layernorm'),
        qkv: lin('attention.query_key_value', 3 * D, D),
        dense: lin('attention.dense', D, D),
        up: lin('mlp.dense_h_to_4h', F, D),
        down: lin('mlp.dense_4h_to_h', D, F),
      });
      assert.equal(grams.down.length, F * F);
    }
    const h = cf.finalHidden(src.tensor(names.finalNorm('weight'), [D]), src.tensor(names.finalNorm('bias'), [D]));
    const head = src.tensor(names.embedOut, [V, D]);
    const runner = await loadRunner({ modelDir: MODEL_DIR, cacheDir, threads: 1, quant: 'fp32' });
    try {
      let off = 0;
      for (const s of seqs) {
        const js = linear(h.subarray((off + s.length - 1) * D, (off + s.length) * D), 1, D, head, null, V);
        runner.reset(1);
        const [ref] = await runner.forward([s]);
        let maxDiff = 0;
        for (let v = 0; v < V; v++) maxDiff = Math.max(maxDiff, Math.abs(js[v] - ref[v]));
        assert.ok(maxDiff < 1e-3, `logits differ by ${maxDiff}`);
        off += s.length;
      }
    } finally {
      await runner.dispose();
    }
  } finally {
    src.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

test('GPTQ: lower output error than the weight-only scale search on correlated inputs; valid layout', () => {
  // Inputs with a few loud, correlated channels (as after LayerNorm in real models).
  const N = 24, K = 64, T = 512;
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const x = new Float32Array(T * K);
  for (let t = 0; t < T; t++) {
    const common = rnd();
    for (let k = 0; k < K; k++) x[t * K + k] = (k % 8 === 0 ? 6 : 1) * rnd() + 0.8 * common;
  }
  const w = Float32Array.from({ length: N * K }, () => rnd() * 0.1);
  const h = new Float64Array(K * K);
  for (let t = 0; t < T; t++) for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j] += x[t * K + i] * x[t * K + j];
  const outErr = (q: Float32Array) => {
    const a = linear(x, T, K, w, null, N);
    const b = linear(x, T, K, q, null, N);
    let e = 0;
    for (let i = 0; i < a.length; i++) e += (a[i] - b[i]) ** 2;
    return e;
  };
  const plain = quantizeInt4Columns(w, N, K, { blockSize: 32 });
  const gptq = gptqInt4Columns(w, N, K, h, { blockSize: 32 });
  const eGptq = outErr(dequantizeInt4Columns(gptq));
  const ePlain = outErr(dequantizeInt4Columns(plain));
  assert.ok(eGptq < 0.8 * ePlain, `gptq ${eGptq} vs plain ${ePlain}`);
  // Same packed layout as the plain quantizer: [K, N] dequantization is the transpose of [N, K].
  const kn = dequantizeInt4(gptq);
  const nk = dequantizeInt4Columns(gptq);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) assert.equal(kn[k * N + n], nk[n * K + k]);
  assert.equal(gptq.scales.length, N * 2);
});

test('calibration tokens: int4 scale search builds are calibrated, rtn / int8 / fp32 are not', () => {
  const seqs = calibrationFor(MODEL_DIR, { quant: 'int4' });
  assert.ok(seqs && seqs.length >= 4 && seqs.every((s) => s.length > 0 && s.length <= 256));
  assert.equal(seqs.reduce((n, s) => n + s.length, 0), 2048);
  assert.equal(calibrationFor(MODEL_DIR, { quant: 'int4', int4Scales: 'rtn' }), undefined);
  assert.equal(calibrationFor(MODEL_DIR, { quant: 'int8' }), undefined);
});

test('calibration is skipped for models too large for the JS pass (GPT-NeoX-20B shape)', () => {
  const small = readConfig(MODEL_DIR);
  assert.ok(isCalibrated(small, { quant: 'int4' }));
  const neox20b = { ...small, hiddenSize: 6144, intermediateSize: 24576, numLayers: 44, numHeads: 64, headSize: 96 };
  assert.equal(isCalibrated(neox20b, { quant: 'int4' }), false);
  assert.equal(CALIBRATION_TOKENS, 2048);
});
