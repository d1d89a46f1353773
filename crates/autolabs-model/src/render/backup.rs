//! (being written)

use super::{Ctx, Rendered};

pub(crate) fn render(_ctx: &Ctx, _out: &mut Rendered) {}
