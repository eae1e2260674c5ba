//! The portals' pages: server-rendered HTML (maud), Japanese first with an
//! English switch, no JavaScript build step. Forms carry CSRF tokens; the
//! access layer has already decided who may see each page.

pub mod account;
pub mod chart;
pub mod collect;
pub mod home;
pub mod identity;
pub mod layout;
pub mod login;
pub mod patient;
pub mod register;
pub mod review;
pub mod workspace;
