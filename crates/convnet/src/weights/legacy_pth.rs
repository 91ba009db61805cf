//! PyTorch's legacy (pre-1.6, non-zip) checkpoint format, which the published
//! EfficientNet-Lite0 weights use: five pickles in a row (magic number, protocol version,
//! system info, the state dict whose tensors point at storages by key, the list of storage
//! keys), then each storage's raw bytes preceded by its element count. candle can only read
//! the zip format, so we reuse its unpickler and lay out the storages ourselves.
use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

/// The first pickle: protocol 2, LONG1 of 10 bytes (0x1950a86a20f9469cfc6c), STOP.
/// candle's unpickler only decodes 8-byte LONG1 values, so this one is matched as bytes.
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
];

fn unpickle(r: &mut &[u8], what: &str) -> Result<Object, String> {
    // A crafted file can make candle's unpickler overflow an integer; report it as a bad
    // file rather than crash the caller.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut stack = Stack::empty();
        stack.read_loop(r).map_err(|e| format!("{what}: {e}"))?;
        stack.finalize().map_err(|e| format!("{what}: {e}"))
    }))
    .unwrap_or_else(|_| Err(format!("{what}: malformed pickle")))
}

/// Whether `bytes` start like a legacy checkpoint (a pickled integer after protocol 2).
pub(crate) fn looks_legacy(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC_PICKLE)
}

/// Reads every tensor of a legacy checkpoint.
pub(crate) fn read(bytes: &[u8]) -> Result<HashMap<String, Tensor>, String> {
    if !looks_legacy(bytes) {
        return Err("not a PyTorch legacy checkpoint (wrong magic number)".into());
    }
    let mut r = &bytes[MAGIC_PICKLE.len()..];
    unpickle(&mut r, "protocol version")?;
    unpickle(&mut r, "system info")?;
    let state = unpickle(&mut r, "state dict")?;
    let keys = match unpickle(&mut r, "storage keys")? {
        Object::List(k) => k
            .into_iter()
            .map(|k| k.unicode().map_err(|o| format!("storage key {o:?}")))
            .collect::<Result<Vec<String>, String>>()?,
        other => return Err(format!("storage key list is {other:?}")),
    };
    let entries = match state {
        Object::Dict(kv) => kv,
        Object::Reduce { args, .. } => match *args {
            Object::Dict(kv) => kv,
            other => return Err(format!("state dict is not a dict: {other:?}")),
        },
        other => return Err(format!("state dict is not a dict: {other:?}")),
    };
    // Tensor infos name their storage as "<dir>/<key>"; dir is empty here.
    let mut infos = Vec::new();
    for (name, value) in entries {
        if let Some(info) = value
            .into_tensor_info(name, std::path::Path::new(""))
            .map_err(|e| format!("tensor entry: {e}"))?
        {
            infos.push(info);
        }
    }
    let dtype_of: HashMap<&str, DType> = infos
        .iter()
        .map(|i| (i.path.trim_start_matches('/'), i.dtype))
        .collect();
    let mut storages: HashMap<&str, &[u8]> = HashMap::new();
    for key in &keys {
        let dtype = *dtype_of
            .get(key.as_str())
            .ok_or_else(|| format!("storage {key} is used by no tensor"))?;
        if r.len() < 8 {
            return Err(format!("file ends before storage {key} (truncated?)"));
        }
        let numel = u64::from_le_bytes(r[..8].try_into().unwrap()) as usize;
        let len = numel
            .checked_mul(dtype.size_in_bytes())
            .filter(|&l| l <= r.len() - 8)
            .ok_or_else(|| {
                format!("storage {key} needs {numel} elements but the file ends first (truncated?)")
            })?;
        storages.insert(key, &r[8..8 + len]);
        r = &r[8 + len..];
    }
    let mut out = HashMap::new();
    for info in infos {
        let key = info.path.trim_start_matches('/');
        let data = storages
            .get(key)
            .ok_or_else(|| format!("tensor {} has no storage {key}", info.name))?;
        let storage = Tensor::from_raw_buffer(
            data,
            info.dtype,
            &[data.len() / info.dtype.size_in_bytes()],
            &Device::Cpu,
        )
        .map_err(|e| format!("{}: {e}", info.name))?;
        let layout = &info.layout;
        let elem = info.dtype.size_in_bytes();
        let offset = layout.start_offset() / elem;
        let dims = layout.shape().dims().to_vec();
        let numel: usize = dims.iter().product();
        let strides = layout.stride();
        // Gather through the strides (checkpoint tensors are almost always contiguous).
        let t = if layout.is_contiguous() {
            if offset + numel > storage.elem_count() {
                return Err(format!("tensor {} reaches past its storage", info.name));
            }
            storage
                .narrow(0, offset, numel)
                .and_then(|t| t.reshape(dims.as_slice()))
        } else {
            let mut idx = Vec::with_capacity(numel);
            let mut pos = vec![0usize; dims.len()];
            for _ in 0..numel {
                idx.push(
                    (offset + pos.iter().zip(strides).map(|(p, s)| p * s).sum::<usize>()) as u32,
                );
                for d in (0..dims.len()).rev() {
                    pos[d] += 1;
                    if pos[d] < dims[d] {
                        break;
                    }
                    pos[d] = 0;
                }
            }
            if idx.iter().any(|&i| i as usize >= storage.elem_count()) {
                return Err(format!("tensor {} reaches past its storage", info.name));
            }
            Tensor::new(idx.as_slice(), &Device::Cpu)
                .and_then(|i| storage.index_select(&i, 0))
                .and_then(|t| t.reshape(dims.as_slice()))
        }
        .map_err(|e| format!("{}: {e}", info.name))?;
        out.insert(info.name, t);
    }
    Ok(out)
}
