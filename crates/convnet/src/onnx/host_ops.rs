//! ONNX ops evaluated on host values: the shape arithmetic exporters emit (Shape, Gather,
//! Concat, Reshape, Slice, Cast, ConstantOfShape, Range, Expand, …) and element-wise
//! arithmetic on constants. Used to fold input-independent subgraphs at load time and,
//! during a pass, for the shape arithmetic that depends on the batch size.
use super::graph::Node;
use super::host::{axis, reshape_dims, slice_axes, Host};

/// The ops this module evaluates when all their inputs are host values.
const HOST_OPS: &[&str] = &[
    "Shape",
    "Size",
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Slice",
    "Cast",
    "ConstantOfShape",
    "Reshape",
    "Transpose",
    "Range",
    "Expand",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Mod",
    "Equal",
    "Less",
    "Greater",
    "Where",
    "Not",
    "Neg",
    "Abs",
    "Floor",
    "Ceil",
    "Sqrt",
    "Reciprocal",
    "ReduceProd",
    "ScatterND",
    "Flatten",
    "Identity",
];

pub fn is_host_op(op: &str) -> bool {
    HOST_OPS.contains(&op)
}

/// The `i`-th argument, which the op requires.
fn arg<'a>(args: &[Option<&'a Host>], i: usize) -> Result<&'a Host, String> {
    args.get(i)
        .copied()
        .flatten()
        .ok_or_else(|| format!("input {i} is missing"))
}

/// Axes from an attribute (older opsets) or the `i`-th input (newer ones).
pub fn axes_of(n: &Node, args_i: Option<&Host>) -> Option<Vec<i64>> {
    match args_i {
        Some(h) => Some(h.to_i64()),
        None => n.ints("axes").map(<[i64]>::to_vec),
    }
}

/// `Unsqueeze`'s output dims: a 1 inserted at every axis (counted in the output's rank).
pub fn unsqueeze_dims(dims: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let rank = dims.len() + axes.len();
    let mut at: Vec<usize> = axes
        .iter()
        .map(|&a| axis(a, rank))
        .collect::<Result<_, _>>()?;
    at.sort_unstable();
    let mut out = dims.to_vec();
    for a in at {
        out.insert(a, 1);
    }
    Ok(out)
}

/// `Squeeze`'s output dims: the listed axes (all 1s when none) removed.
pub fn squeeze_dims(dims: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>, String> {
    let drop: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|&a| axis(a, dims.len()))
            .collect::<Result<_, _>>()?,
        None => (0..dims.len()).filter(|&i| dims[i] == 1).collect(),
    };
    for &d in &drop {
        if dims[d] != 1 {
            return Err(format!("cannot squeeze axis {d} of size {}", dims[d]));
        }
    }
    Ok(dims
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, &d)| d)
        .collect())
}

/// `Flatten`'s 2-D shape.
pub fn flatten_dims(dims: &[usize], axis_attr: i64) -> Result<[usize; 2], String> {
    let a = if axis_attr == dims.len() as i64 {
        dims.len()
    } else {
        axis(axis_attr, dims.len())?
    };
    Ok([dims[..a].iter().product(), dims[a..].iter().product()])
}

/// `Shape`'s output for a tensor of `dims` (the start/end attributes of opset 15).
pub fn shape_of(n: &Node, dims: &[usize]) -> Result<Host, String> {
    let r = dims.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(n.int("start").unwrap_or(0));
    let end = clamp(n.int("end").unwrap_or(r));
    let v: Vec<i64> = dims[start..end.max(start)]
        .iter()
        .map(|&d| d as i64)
        .collect();
    Host::ints(&[v.len()], v)
}

/// Slice's starts, ends, optional axes and optional steps.
pub type SliceSpec = (Vec<i64>, Vec<i64>, Option<Vec<i64>>, Option<Vec<i64>>);

/// Slice's starts, ends, axes and steps: inputs from opset 10, attributes before.
pub fn slice_spec(n: &Node, args: &[Option<&Host>], opset: i64) -> Result<SliceSpec, String> {
    if opset < 10 {
        let get = |k: &str| n.ints(k).map(<[i64]>::to_vec);
        return Ok((
            get("starts").ok_or("Slice without starts")?,
            get("ends").ok_or("Slice without ends")?,
            get("axes"),
            None,
        ));
    }
    let opt = |i: usize| args.get(i).copied().flatten().map(Host::to_i64);
    Ok((
        arg(args, 1)?.to_i64(),
        arg(args, 2)?.to_i64(),
        opt(3),
        opt(4),
    ))
}

/// Evaluates node `n` on host values.
pub fn eval(n: &Node, args: &[Option<&Host>], opset: i64) -> Result<Host, String> {
    let x = || arg(args, 0);
    match n.op.as_str() {
        "Identity" => Ok(x()?.clone()),
        "Shape" => shape_of(n, x()?.shape()),
        "Size" => Host::ints(&[], vec![x()?.len() as i64]),
        "Gather" => {
            let x = x()?;
            let a = axis(n.int("axis").unwrap_or(0), x.shape().len())?;
            x.gather(a, arg(args, 1)?)
        }
        "Unsqueeze" => {
            let axes =
                axes_of(n, args.get(1).copied().flatten()).ok_or("Unsqueeze without axes")?;
            x()?.reshape(&unsqueeze_dims(x()?.shape(), &axes)?)
        }
        "Squeeze" => {
            let axes = axes_of(n, args.get(1).copied().flatten());
            x()?.reshape(&squeeze_dims(x()?.shape(), axes.as_deref())?)
        }
        "Flatten" => x()?.reshape(&flatten_dims(x()?.shape(), n.int("axis").unwrap_or(1))?),
        "Concat" => {
            let parts: Vec<Host> = args.iter().flatten().map(|h| (*h).clone()).collect();
            let rank = parts.first().ok_or("Concat of nothing")?.shape().len();
            Host::concat(&parts, axis(n.int("axis").unwrap_or(0), rank)?)
        }
        "Slice" => {
            let x = x()?;
            let (s, e, a, st) = slice_spec(n, args, opset)?;
            Ok(x.slice(&slice_axes(x.shape(), &s, &e, a.as_deref(), st.as_deref())?))
        }
        "Cast" => match n.int("to") {
            Some(1) | Some(10) | Some(11) => Ok(Host::F32(x()?.to_f32())),
            Some(6) | Some(7) | Some(2) | Some(3) | Some(9) => {
                let x = x()?;
                Host::ints(x.shape(), x.to_i64())
            }
            other => Err(format!("Cast to data type {other:?} is not supported")),
        },
        "ConstantOfShape" => {
            let dims: Vec<usize> = x()?.to_i64().iter().map(|&d| d.max(0) as usize).collect();
            let count = dims.iter().product();
            match n.tensor("value") {
                Some(t) => match Host::from_proto(t, std::path::Path::new("."))? {
                    Host::F32(v) => {
                        Host::floats(&dims, vec![v.iter().next().copied().unwrap_or(0.0); count])
                    }
                    Host::I64(v) => {
                        Host::ints(&dims, vec![v.iter().next().copied().unwrap_or(0); count])
                    }
                },
                None => Host::floats(&dims, vec![0.0; count]),
            }
        }
        "Reshape" => {
            let x = x()?;
            let spec = arg(args, 1)?.to_i64();
            x.reshape(&reshape_dims(
                x.shape(),
                &spec,
                n.int("allowzero") == Some(1),
            )?)
        }
        "Transpose" => {
            let x = x()?;
            let perm: Vec<usize> = match n.ints("perm") {
                Some(p) => p
                    .iter()
                    .map(|&a| axis(a, x.shape().len()))
                    .collect::<Result<_, _>>()?,
                None => (0..x.shape().len()).rev().collect(),
            };
            x.transpose(&perm)
        }
        "Range" => {
            let (s, l, d) = (arg(args, 0)?, arg(args, 1)?, arg(args, 2)?);
            match (s, l, d) {
                (Host::I64(_), Host::I64(_), Host::I64(_)) => {
                    let (s, l, d) = (s.to_i64()[0], l.to_i64()[0], d.to_i64()[0]);
                    if d == 0 {
                        return Err("Range with delta 0".into());
                    }
                    let count = ((l - s) as f64 / d as f64).ceil().max(0.0) as usize;
                    Host::ints(&[count], (0..count as i64).map(|i| s + i * d).collect())
                }
                _ => {
                    let (s, l, d) = (s.scalar_f32()?, l.scalar_f32()?, d.scalar_f32()?);
                    let count = ((l - s) / d).ceil().max(0.0) as usize;
                    Host::floats(&[count], (0..count).map(|i| s + i as f32 * d).collect())
                }
            }
        }
        "Expand" => {
            let dims: Vec<usize> = arg(args, 1)?
                .to_i64()
                .iter()
                .map(|&d| d.max(0) as usize)
                .collect();
            x()?.expand(&dims)
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Mod" | "Equal" | "Less"
        | "Greater" => {
            let op = match (n.op.as_str(), n.int("fmod") == Some(1), x()?) {
                ("Mod", true, _) => "FMod",
                ("Mod", false, Host::F32(_)) => {
                    return Err("Mod of floats needs fmod = 1 (as ONNX requires)".into())
                }
                (op, _, _) => op,
            };
            let mut acc = x()?.clone();
            for b in args.iter().skip(1).flatten() {
                acc = super::host::binary(op, &acc, b)?;
            }
            Ok(acc)
        }
        "Where" => {
            let (c, a, b) = (arg(args, 0)?, arg(args, 1)?, arg(args, 2)?);
            let shape =
                super::host::broadcast(&super::host::broadcast(c.shape(), a.shape())?, b.shape())?;
            let c = c.expand(&shape)?.to_i64();
            let (a, b) = (a.expand(&shape)?, b.expand(&shape)?);
            match (&a, &b) {
                (Host::I64(_), Host::I64(_)) => {
                    let (a, b) = (a.to_i64(), b.to_i64());
                    Host::ints(
                        &shape,
                        (0..c.len())
                            .map(|i| if c[i] != 0 { a[i] } else { b[i] })
                            .collect(),
                    )
                }
                _ => {
                    let (a, b) = (a.to_f32(), b.to_f32());
                    let (a, b): (Vec<f32>, Vec<f32>) =
                        (a.iter().copied().collect(), b.iter().copied().collect());
                    Host::floats(
                        &shape,
                        (0..c.len())
                            .map(|i| if c[i] != 0 { a[i] } else { b[i] })
                            .collect(),
                    )
                }
            }
        }
        "ScatterND" => x()?.scatter_nd(
            arg(args, 1)?,
            arg(args, 2)?,
            n.string("reduction").as_deref().unwrap_or("none"),
        ),
        "Not" => {
            let x = x()?;
            Host::ints(
                x.shape(),
                x.to_i64().iter().map(|&v| (v == 0) as i64).collect(),
            )
        }
        "ReduceProd" => {
            let x = x()?;
            Host::ints(&[], vec![x.to_i64().iter().product()])
        }
        "Neg" | "Abs" | "Floor" | "Ceil" | "Sqrt" | "Reciprocal" => match x()? {
            Host::I64(a) if n.op == "Neg" => Ok(Host::I64(a.mapv(|v| -v))),
            Host::I64(a) if n.op == "Abs" => Ok(Host::I64(a.mapv(i64::abs))),
            h => {
                let f: fn(f32) -> f32 = match n.op.as_str() {
                    "Neg" => |v| -v,
                    "Abs" => f32::abs,
                    "Floor" => f32::floor,
                    "Ceil" => f32::ceil,
                    "Sqrt" => f32::sqrt,
                    _ => |v| 1.0 / v,
                };
                Ok(Host::F32(h.to_f32().mapv(f)))
            }
        },
        other => Err(format!("{other} is not evaluated on the host")),
    }
}
