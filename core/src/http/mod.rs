//! The edge: extractors that authenticate and authorize a request and build the domain's
//! access context; the router and the server loop are `hub::http`.

pub mod extract;
